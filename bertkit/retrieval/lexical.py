"""BM25 through bm25s over the passages, and reciprocal rank fusion with the dense ranking."""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["RRF_K", "Bm25", "bm25_for", "reciprocal_rank_fusion"]

RRF_K = 60  # Cormack et al. (2009); the constant Elasticsearch, Vespa and ranx use
_LOCK = threading.Lock()


class Bm25:
    """A bm25s index (Lucene BM25, k1 1.5, b 0.75, English stop words) over ``texts``."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self._bm25s = bm25s
        self.size = len(texts)
        self._model = bm25s.BM25()
        self._model.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def search(self, queries: list[str], k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the best ``k`` passages per query; rows -1 where none. # -> (Q, k), (Q, k)"""
        k = min(k, self.size)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.zeros((len(queries), k), dtype=np.float32)
        if k == 0 or not queries:
            return scores, rows
        tokens = self._bm25s.tokenize(queries, stopwords="en", show_progress=False)
        weights = None if mask is None else mask.astype(np.float32)
        found, vals = self._model.retrieve(tokens, k=k, show_progress=False, n_threads=0, weight_mask=weights)
        keep = vals > 0  # a passage sharing no term with the query is no BM25 hit
        return np.where(keep, vals, 0).astype(np.float32), np.where(keep, found, -1).astype(np.int64)


def bm25_for(table) -> Bm25:
    """The table's BM25 index, built on first use (once, under a lock)."""
    if "bm25" not in table.cache:
        with _LOCK:
            if "bm25" not in table.cache:
                table.cache["bm25"] = Bm25(table.texts)
    return table.cache["bm25"]


def reciprocal_rank_fusion(rankings: list[np.ndarray], k: int, rrf_k: int = RRF_K) -> tuple[np.ndarray, np.ndarray]:
    """Fuse rankings (each (Q, m) rows, best first, -1 = none): score = sum 1 / (rrf_k + rank).

    Ranks start at 1. Returns (scores, rows), (Q, k), rows -1 where fewer were found.
    """
    n_queries = len(rankings[0])
    out_s = np.zeros((n_queries, k), dtype=np.float32)
    out_r = np.full((n_queries, k), -1, dtype=np.int64)
    for q in range(n_queries):
        fused: dict[int, float] = {}
        for ranking in rankings:
            for rank, row in enumerate(ranking[q], start=1):
                if row >= 0:
                    fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (rrf_k + rank)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        for j, (row, score) in enumerate(best):
            out_r[q, j], out_s[q, j] = row, score
    return out_s, out_r
