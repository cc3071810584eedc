"""Exact search: the query-passage score matrix block by block, keeping a running top-k."""

from __future__ import annotations

import numpy as np

__all__ = ["topk", "exact_search", "rows_topk"]

_BLOCK_BYTES = 64 << 20  # stored vectors scored per block (64 MB)


def topk(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, columns) of the ``k`` largest per row, best first. # (Q, n) -> (Q, k), (Q, k)"""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.empty((len(scores), 0), np.float32), np.empty((len(scores), 0), np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(np.arange(scores.shape[1]), (len(scores), 1))
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(vals, order, axis=1), np.take_along_axis(part, order, axis=1)


def exact_search(score_block, stored: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None = None):
    """Top-``k`` rows of ``stored`` per query under ``score_block(queries, block)``.

    ``mask`` (N,) bool keeps only the rows where it is True. Returns (scores, rows), each
    (Q, k'), k' <= k; rows of -inf (masked) are left out by the caller via ``rows >= 0``.
    """
    n = len(stored)
    row_bytes = max(1, stored.itemsize * int(np.prod(stored.shape[1:])) + 4 * len(queries))
    block = max(1024, _BLOCK_BYTES // row_bytes)
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)  # (Q, <=k)
    best_r = np.full((len(queries), 0), -1, dtype=np.int64)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        s = np.asarray(score_block(queries, stored[lo:hi]), dtype=np.float32)  # (Q, hi-lo)
        if mask is not None:
            s = np.where(mask[lo:hi][None, :], s, -np.inf)
        vals, cols = topk(s, k)
        cand_s = np.concatenate([best_s, vals], axis=1)
        cand_r = np.concatenate([best_r, cols + lo], axis=1)
        vals, cols = topk(cand_s, k)
        best_s, best_r = vals, np.take_along_axis(cand_r, cols, axis=1)
    best_r = np.where(np.isfinite(best_s), best_r, -1)
    return best_s, best_r


def rows_topk(score_rows, queries: np.ndarray, rows: np.ndarray, k: int):
    """Rescore candidate ``rows`` (Q, m; -1 = none) per query and keep the best ``k``.

    ``score_rows(query (D,), rows (m,))`` -> (m,) scores. Returns (scores, rows), (Q, k').
    """
    out_s = np.full((len(queries), min(k, rows.shape[1])), -np.inf, dtype=np.float32)
    out_r = np.full(out_s.shape, -1, dtype=np.int64)
    for i, (query, cand) in enumerate(zip(queries, rows)):
        cand = cand[cand >= 0]
        if not len(cand):
            continue
        s = np.asarray(score_rows(query, cand), dtype=np.float32)
        order = np.argsort(-s, kind="stable")[: out_s.shape[1]]
        out_s[i, : len(order)] = s[order]
        out_r[i, : len(order)] = cand[order]
    return out_s, out_r
