"""Reranking: a cross-encoder predictor (:class:`Reranker`), its model directory, training
(``bertkit rerank train``) and evaluation (MRR@10, nDCG@10)."""

from bertkit.rerank.config import RerankConfig
from bertkit.rerank.reranker import RankResult, Reranker, load_reranker

__all__ = ["RankResult", "RerankConfig", "Reranker", "load_reranker"]
