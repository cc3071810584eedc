"""The typed config of an index directory (``bertkit.json``, task ``"index"``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from bertkit.errors import ModelLoadError

__all__ = ["PRECISIONS", "BACKENDS", "IndexConfig"]

PRECISIONS = ("fp32", "fp16", "int8", "binary")
# "auto": exact search up to EXACT_LIMIT passages, the usearch HNSW graph above.
BACKENDS = ("auto", "exact", "usearch")


@dataclass
class IndexConfig:
    """What an index was built with: the encoder (by fingerprint), the pooling, the vectors.

    ``encoder_fingerprint`` is :func:`bertkit.encoder.fingerprint.model_fingerprint` of the
    encoder that embedded the passages; queries must be embedded by the same one.
    """

    TASK: ClassVar[str] = "index"
    SCHEMA_VERSION: ClassVar[int] = 1

    encoder_fingerprint: str
    encoder_name: str  # the encoder directory's name, for messages
    encoder_path: str  # where it was at build time (used when no embedder is given to load)
    pooling: str
    pooling_given: bool  # False: the model directory's own pipeline (sentence-transformers modules)
    normalize: bool
    max_length: int
    model_dim: int  # the embedder's output dimension
    dim: int  # stored dimension (== model_dim unless truncated with --dim)
    precision: Literal["fp32", "fp16", "int8", "binary"]
    backend: Literal["auto", "exact", "usearch"]
    passage_tokens: int
    passage_overlap: int
    documents: int
    passages: int
    next_key: int  # the key the next added passage gets (keys are never reused)
    rescore_multiplier: int = 4  # int8/binary: candidates = top_k * this, rescored
    has_ann: bool = False  # ann.usearch holds the approximate graph

    def check(self, where: str) -> None:
        if not 1 <= self.dim <= self.model_dim:
            raise ModelLoadError(f"{where}: field 'dim' must be between 1 and model_dim {self.model_dim}, got {self.dim}")
        if self.precision == "binary" and self.dim % 8:
            raise ModelLoadError(f"{where}: binary precision needs a dim divisible by 8, got {self.dim}")
        if not 0 <= self.passage_overlap < self.passage_tokens:
            raise ModelLoadError(f"{where}: passage_overlap must be in [0, passage_tokens), got {self.passage_overlap}")
        if self.passages < 0 or self.documents < 0 or self.next_key < self.passages:
            raise ModelLoadError(f"{where}: inconsistent counts (documents, passages, next_key)")
