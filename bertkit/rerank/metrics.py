"""Ranking metrics with the official (trec_eval) definitions, over labelled candidate lists.

* MRR@k: the mean over queries of 1 / the rank of the first relevant item in the top k
  (0 when none is there);
* nDCG@k: DCG = sum over the top k of ``gain / log2(rank + 1)`` with the graded label as
  the gain (trec_eval's ``ndcg_cut``), divided by the DCG of the ideal order of all the
  query's judged labels (``ideal`` when given: relevant items the candidates missed count too).

Queries with no relevant item are skipped, as trec_eval skips queries without qrels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mrr_at", "ndcg_at", "ranking_metrics"]


def mrr_at(ranked: Sequence[float], k: int = 10) -> float:
    """1 / rank of the first relevant (label > 0) item within the top ``k``, else 0."""
    for rank, label in enumerate(ranked[:k], start=1):
        if label > 0:
            return 1.0 / rank
    return 0.0


def _dcg(gains: Sequence[float], k: int) -> float:
    g = np.asarray(list(gains)[:k], dtype=np.float64)
    return float((g / np.log2(np.arange(2, len(g) + 2))).sum())


def ndcg_at(ranked: Sequence[float], k: int = 10, ideal: Sequence[float] | None = None) -> float:
    """nDCG@k of labels in ranked order; ``ideal``: every judged label of the query (default: ``ranked``)."""
    best = _dcg(sorted(ideal if ideal is not None else ranked, reverse=True), k)
    return _dcg(ranked, k) / best if best > 0 else 0.0


def ranking_metrics(groups: Sequence[tuple[Sequence[float], Sequence[float]]], k: int = 10) -> dict[str, float]:
    """MRR@k and nDCG@k (0-100) over (scores, labels) per query; best score first, ties in input order."""
    mrr, ndcg = [], []
    for scores, labels in groups:
        labels = list(labels)
        if not any(x > 0 for x in labels):
            continue
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        ranked = [labels[i] for i in order]
        mrr.append(mrr_at(ranked, k))
        ndcg.append(ndcg_at(ranked, k))
    n = len(mrr)
    return {f"mrr@{k}": 100 * float(np.mean(mrr)) if n else 0.0, f"ndcg@{k}": 100 * float(np.mean(ndcg)) if n else 0.0, "queries": n}
