"""The one predictor shape every task has: the :class:`Predictor` protocol.

A predictor (``Embedder``, ``Classifier``, ``Reader``, ``Tagger``, the reranker) is

- built by ``Cls.load(source=None, *, backend="auto", dtype="auto", device="auto")``:
  ``source`` is a model directory (bertkit's own format, a Hugging Face task checkpoint,
  a sentence-transformers directory: see :mod:`bertkit.engine.loader`) or ``None`` for
  the task's default;
- tells what runs in ``.runtime`` (a :class:`~bertkit.engine.runtime.Runtime`);
- has one generic batch method, ``predict_batch(inputs, *, batch_size=None)``, returning
  one typed result per input, in input order, each with ``to_dict()`` (an empty input
  gives an empty list). Its task-named methods (``embed``, ``predict``, ``answer``) take
  the task's own keywords;
- scores labelled data with ``evaluate(data, *, batch_size=None)``, returning a
  :class:`Report`: flat ``metrics`` (name -> float) and ``to_dict()``.

Inputs per task: a text (embeddings, classification, tagging), a ``(question, context)``
pair (QA), a ``(query, passage)`` pair (reranking).

``isinstance(obj, Predictor)`` checks the names only (a runtime-checkable protocol);
``tests/engine/test_predictor.py`` checks every predictor against it. This module
imports nothing heavy, so front ends can type against it cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from bertkit.engine.runtime import Runtime

__all__ = ["Result", "Report", "EvalReport", "Predictor", "PREDICTOR_METHODS"]

# what every predictor defines (the protocol, spelled out for messages and tests)
PREDICTOR_METHODS = ("load", "runtime", "predict_batch", "evaluate")


@runtime_checkable
class Result(Protocol):
    """One typed result (a dataclass) that serialises itself to plain JSON types."""

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class Report(Protocol):
    """What ``evaluate`` returns: headline metrics (name -> float) and the whole report."""

    @property
    def metrics(self) -> dict[str, float]: ...

    def to_dict(self) -> dict[str, Any]: ...


class EvalReport(dict):
    """A :class:`Report` that is also the plain dict the task's report always was.

    ``report["strict"]`` keeps working for older callers; ``report.metrics`` holds the
    flat headline numbers (``headline`` names them), ``report.to_dict()`` all of it.
    """

    def __init__(self, data: dict[str, Any], headline: dict[str, float]) -> None:
        super().__init__(data)
        self._headline = {k: float(v) for k, v in headline.items()}

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self._headline)

    def to_dict(self) -> dict[str, Any]:
        return dict(self)


@runtime_checkable
class Predictor(Protocol):
    """The shape of every task's predictor (see the module docstring)."""

    TASK: ClassVar[str]  # "embeddings" | "classifier" | "qa" | "tagger" | "reranker"
    runtime: Runtime

    @classmethod
    def load(
        cls, source: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto"
    ) -> Predictor: ...

    def predict_batch(self, inputs: Sequence[Any], *, batch_size: int | None = None) -> list[Result]: ...

    def evaluate(self, data: Any, *, batch_size: int | None = None) -> Report: ...
