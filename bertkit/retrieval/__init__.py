"""Search over a corpus: passages, a persistent vector index (exact or usearch), BM25 hybrid, IR metrics."""

from bertkit.retrieval.hit import Hit
from bertkit.retrieval.index import EXACT_LIMIT, Index

__all__ = ["Hit", "Index", "EXACT_LIMIT"]
