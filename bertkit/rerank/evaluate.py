"""Evaluate a reranker on labelled pairs: each query's rows ranked by the model, scored with
MRR@10 and nDCG@10 (:mod:`bertkit.rerank.metrics`), beside the rows' given order."""

from __future__ import annotations

import numpy as np

from bertkit.rerank.data import Pairs
from bertkit.rerank.metrics import ranking_metrics

__all__ = ["evaluate_pairs"]


def evaluate_pairs(reranker, pairs: Pairs, *, batch_size: int = 32, k: int = 10) -> dict:
    """{"mrr@k", "ndcg@k", "queries", "given": the same for the rows' own order}."""
    scores = reranker.score(list(zip(pairs.queries, pairs.passages)), raw=True, batch_size=batch_size)
    labels = np.asarray(pairs.labels, dtype=np.float64)
    groups = list(pairs.groups().values())
    ranked = ranking_metrics([(scores[rows], labels[rows]) for rows in groups], k)
    given = ranking_metrics([(-np.arange(len(rows), dtype=np.float64), labels[rows]) for rows in groups], k)
    return {**ranked, "given": given}
