"""The reranker directory's config (``bertkit.json``, task ``rerank``): typed dataclasses.

A bertkit reranker is a cross-encoder: ``[CLS] query [SEP] passage [SEP]`` through the
encoder, a pooling head with one output (the relevance logit), and an ``activation``
applied to it for :meth:`~bertkit.rerank.Reranker.score` (``sigmoid``, as
sentence-transformers' ``CrossEncoder`` does for one label, or ``identity``). The encoder
is described as a classifier's is (:class:`~bertkit.classification.config.EncoderSpec`):
the packaged MiniLM plus deltas, or a Hugging Face directory inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from bertkit.classification.config import EncoderSpec
from bertkit.classification.model import HeadSpec
from bertkit.errors import ModelLoadError
from bertkit.modeldir import read_model_dir

__all__ = ["ACTIVATIONS", "RerankConfig", "read_config"]

ACTIVATIONS = ("sigmoid", "identity")


@dataclass
class RerankConfig:
    TASK: ClassVar[str] = "rerank"
    SCHEMA_VERSION: ClassVar[int] = 1

    max_length: int
    head: HeadSpec
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    activation: Literal["sigmoid", "identity"] = "sigmoid"
    training: dict = field(default_factory=dict)  # the training arguments (informational)
    metrics: dict = field(default_factory=dict)

    def check(self, where: str) -> None:
        if self.max_length < 3:
            raise ModelLoadError(f"{where}: field 'max_length' must be at least 3, got {self.max_length}")
        if self.encoder.source not in ("included", "default"):
            raise ModelLoadError(f"{where}: a reranker's encoder source is 'included' or 'default', got {self.encoder.source!r}")


def read_config(directory: Path) -> RerankConfig:
    """The verified config of a reranker directory (manifest checked, types checked)."""
    return read_model_dir(directory, RerankConfig, hint="train one with: bertkit rerank train")
