"""What a worker runs: a small, picklable description of one predictor and how to apply it.

Each task names its input columns, loads its predictor once (:meth:`load`, in the worker
process, with the same ``backend="auto"`` choice as everywhere else) and turns a batch
of input columns into output columns (:meth:`apply`): NumPy arrays, one row per input row.
The same task serves the row-level Ray Data functions and the sharded CLI job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EmbedTask", "ClassifyTask", "AnswerTask", "TASKS"]


def _threads(cpus: float | None) -> None:
    """One worker on ``cpus`` cores uses that many torch threads (never the whole machine)."""
    if cpus:
        import torch

        torch.set_num_threads(max(1, int(cpus)))


def _strings(values) -> list[str]:
    return [v if isinstance(v, str) else str(v) for v in values]


@dataclass
class EmbedTask:
    """One vector per text (``bertkit.Embedder``)."""

    text_column: str = "text"
    output_column: str = "vector"
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # Embedder options: pooling, layers, normalize, ...
    cpus: float | None = None

    name = "embed"

    @property
    def columns(self) -> list[str]:
        return [self.text_column]

    def load(self):
        from bertkit.embeddings.embedder import Embedder

        _threads(self.cpus)
        return Embedder(self.model, **self.options)

    def apply(self, predictor, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        return {self.output_column: predictor.embed(_strings(batch[self.text_column]))}  # (N, D) float32


@dataclass
class ClassifyTask:
    """Label, its probability and every label's probability (``bertkit.load_classifier``)."""

    text_column: str = "text"
    pair_column: str | None = None
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # backend, dtype, device
    batch_size: int = 32
    cpus: float | None = None

    name = "classify"

    @property
    def columns(self) -> list[str]:
        return [self.text_column] + ([self.pair_column] if self.pair_column else [])

    def load(self):
        from bertkit.classification.classifier import load_classifier

        _threads(self.cpus)
        return load_classifier(self.model, **self.options)

    def apply(self, predictor, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        texts = _strings(batch[self.text_column])
        pairs = _strings(batch[self.pair_column]) if self.pair_column else None
        probs = predictor.predict_proba(texts, pairs, batch_size=self.batch_size).astype(np.float32)  # (N, C)
        best = probs.argmax(axis=1)
        labels = np.array([predictor.labels[i] for i in best], dtype=object)
        return {"label": labels, "probability": probs[np.arange(len(best)), best], "probabilities": probs}


@dataclass
class AnswerTask:
    """The answer span (or "no answer") for each question about its context (``bertkit.load_reader``)."""

    question_column: str = "question"
    context_column: str = "context"
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # backend, dtype, device
    null_threshold: float | None = None
    batch_size: int = 32
    cpus: float | None = None

    name = "answer"

    @property
    def columns(self) -> list[str]:
        return [self.question_column, self.context_column]

    def load(self):
        from bertkit.qa.reader import load_reader

        _threads(self.cpus)
        return load_reader(self.model, **self.options)

    def apply(self, predictor, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        answers = predictor.answer(
            _strings(batch[self.question_column]), _strings(batch[self.context_column]),
            null_threshold=self.null_threshold, batch_size=self.batch_size,
        )
        return {
            "answer": np.array([a.text for a in answers], dtype=object),
            "start": np.array([a.start for a in answers], dtype=np.int64),
            "end": np.array([a.end for a in answers], dtype=np.int64),
            "score": np.array([a.score for a in answers], dtype=np.float32),
            "answer_probability": np.array([a.probability for a in answers], dtype=np.float32),
            "no_answer": np.array([a.no_answer for a in answers], dtype=bool),
        }


TASKS = {"embed": EmbedTask, "classify": ClassifyTask, "answer": AnswerTask}
