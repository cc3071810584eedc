"""Answer questions about contexts with a QA model: windows -> batched logits -> decoded spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from bertkit.errors import InputError, ParameterError
from bertkit.io.progress import progress_bar
from bertkit.qa.decode import Decoded, decode_spans
from bertkit.qa.features import QAFeatures, build_features
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig

__all__ = ["MAX_BATCH_TOKENS", "LogitsEngine", "Predictions", "window_logits", "check_questions", "answer_questions"]

MAX_BATCH_TOKENS = 2048  # padded tokens per batch (fastest on this CPU for 384-token windows)


class LogitsEngine(Protocol):
    """Where windows become logits (:class:`bertkit.qa.engine.SpanEngine` is the one there is;
    this module only needs its shape, so the engine may import this module and not back)."""

    dtype: str

    def logits(self, batch: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class Predictions:
    decoded: list[Decoded]  # one per question, input order
    features: QAFeatures
    start_logits: list[np.ndarray]  # per window (T,)
    end_logits: list[np.ndarray]

    @property
    def questions_truncated(self) -> int:
        return self.features.questions_truncated

    def windows_of(self, question: int) -> list[int]:
        return [w for w, e in enumerate(self.features.example_index) if e == question]


def window_logits(
    model: QAModel,
    features: QAFeatures,
    batch_size: int = 32,
    progress: bool = False,
    max_tokens: int | None = MAX_BATCH_TOKENS,
    engine: LogitsEngine | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Start and end logits of every window, each trimmed to the window's length.

    Batches hold at most ``batch_size`` windows and ``max_tokens`` padded tokens: on a
    CPU, 32 windows of 384 tokens run slower than a few smaller batches (the attention
    matrices no longer fit in cache). ``engine`` (a :class:`bertkit.qa.engine.SpanEngine`)
    runs the windows on ONNX Runtime; None runs ``model`` in torch.
    """
    encoder = model.wrapped
    starts: list[np.ndarray | None] = [None] * len(features)
    ends: list[np.ndarray | None] = [None] * len(features)
    was_training = model.training
    if was_training:  # a model mid-training; a loaded one is already in eval mode (never toggled: thread-safe)
        model.eval()
    with torch.inference_mode(), progress_bar(progress, total=len(features), desc="answering", unit="window") as bar:  # bool or a JobProgress
        for idx, batch in encoder.batches(features.windows, batch_size, max_tokens):
            if engine is None:
                start, end = model(batch)  # (B, T) each
                start, end = start.cpu().numpy(), end.cpu().numpy()
            else:
                start, end = engine.logits(batch)
            for row, w in enumerate(idx):
                n = len(features.windows.features[w]["input_ids"])
                starts[w], ends[w] = start[row, :n], end[row, :n]
            bar.update(len(idx))
    if was_training:
        model.train()
    return starts, ends  # type: ignore[return-value]


def check_questions(
    questions: Sequence[str], contexts: Sequence[str], where: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """Questions and contexts as lists; the one place they are validated (library and CLI).

    Their counts must match (a ParameterError naming ``contexts``) and none may be empty
    (an InputError naming ``where[i]``, default ``question i+1``, e.g. ``qs.jsonl, line 3``).
    """
    if isinstance(questions, str) or isinstance(contexts, str):
        raise ParameterError("questions", "questions and contexts must be lists of strings, not one string")
    questions, contexts = list(questions), list(contexts)
    if len(questions) != len(contexts):
        raise ParameterError("contexts", f"{len(questions)} questions but {len(contexts)} contexts")
    for i, (q, c) in enumerate(zip(questions, contexts)):
        label = where[i] if where is not None else f"question {i + 1}"
        for field, value in (("question", q), ("context", c)):
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{label}: empty {field}")
    return questions, contexts


def answer_questions(
    model: QAModel,
    config: QAConfig,
    questions: Sequence[str],
    contexts: Sequence[str],
    *,
    batch_size: int = 32,
    n_best: int = 20,
    max_answer_length: int | None = None,
    null_threshold: float | None = None,
    progress: bool = False,
    engine: LogitsEngine | None = None,
) -> Predictions:
    """Decode the best answers (n-best candidates) for each (question, context) pair.

    The model says "no answer" (``Decoded.answer is None``) only when it was trained
    with unanswerable questions (``config.version_2``) and the null score wins.
    """
    questions, contexts = check_questions(questions, contexts)
    features = build_features(
        model.wrapped, questions, contexts, doc_stride=config.doc_stride, max_question_length=config.max_question_length
    )
    starts, ends = window_logits(model, features, batch_size, progress, engine=engine)
    by_question: list[list[int]] = [[] for _ in range(features.num_examples)]
    for w, e in enumerate(features.example_index):
        by_question[e].append(w)
    decoded = []
    for e, windows in enumerate(by_question):
        decoded.append(
            decode_spans(
                [starts[w] for w in windows],
                [ends[w] for w in windows],
                [features.offsets[w] for w in windows],
                [features.context_mask[w] for w in windows],
                contexts[e],
                cls_index=[features.cls_index[w] for w in windows],
                n_best=n_best,
                max_answer_length=max_answer_length or config.max_answer_length,
                with_null=config.version_2,
                null_threshold=config.null_threshold if null_threshold is None else null_threshold,
            )
        )
    return Predictions(decoded, features, starts, ends)
