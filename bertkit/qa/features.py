"""Question + context -> model windows, with character offsets and span labels.

Each pair becomes ``[CLS] question [SEP] context [SEP]`` (token types 0 and 1) through
the fast tokenizer. Only the context is truncated: a long context becomes several
windows that overlap by ``doc_stride`` tokens. Questions longer than
``max_question_length`` tokens are cut (and counted) first, so that every window has
room for context. For every window we keep the character span of each context token
(``offsets``; -1 outside the context), which carries predictions back to the exact text,
and, for training, the start and end token of the answer, or the ``[CLS]`` position
when the window does not hold the whole answer (or the question has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bertkit.encoder.encoder import Encoder, Windows
from bertkit.errors import ParameterError

__all__ = ["QAFeatures", "truncate_questions", "build_features", "label_window", "check_lengths"]


@dataclass
class QAFeatures:
    windows: Windows  # tokenized windows (input_ids, token_type_ids, attention_mask, ...)
    offsets: list[np.ndarray]  # per window (T, 2) int64 char spans in the context; -1 outside it
    context_mask: list[np.ndarray]  # per window (T,) bool: True on context tokens
    cls_index: list[int]  # per window: position of [CLS] (the "no answer" target)
    num_examples: int
    questions_truncated: int = 0
    start_positions: list[int] = field(default_factory=list)  # per window, when labelled
    end_positions: list[int] = field(default_factory=list)

    @property
    def example_index(self) -> list[int]:
        """Window -> index of its question."""
        return self.windows.sample

    def __len__(self) -> int:
        return len(self.offsets)


def check_lengths(max_length: int, doc_stride: int, max_question_length: int) -> None:
    """Raise a UsageError unless question, stride and special tokens fit in a window."""
    if max_question_length < 1:
        raise ParameterError("max_question_length", f"max_question_length must be >= 1, got {max_question_length}")
    if doc_stride < 0:
        raise ParameterError("doc_stride", f"doc_stride must be >= 0, got {doc_stride}")
    if max_question_length + doc_stride + 4 > max_length:
        raise ParameterError(
            "max_length",
            f"max_length {max_length} leaves no room for context: it must exceed "
            f"max_question_length ({max_question_length}) + doc_stride ({doc_stride}) + 4 special tokens",
            "max_question_length", "doc_stride",
        )


def truncate_questions(tokenizer, questions: Sequence[str], max_tokens: int) -> tuple[list[str], int]:
    """Cut each question after ``max_tokens`` tokens; returns (questions, number cut).

    ``tokenizer``: a fast tokenizer, or :meth:`Encoder.encode` (the same call, thread-safe).
    """
    enc = tokenizer(list(questions), add_special_tokens=False, return_offsets_mapping=True)
    out: list[str] = []
    cut = 0
    for question, offsets in zip(questions, enc["offset_mapping"]):
        if len(offsets) > max_tokens:
            out.append(question[: offsets[max_tokens - 1][1]])
            cut += 1
        else:
            out.append(question)
    return out, cut


def label_window(offsets: np.ndarray, context_mask: np.ndarray, start_char: int, end_char: int, cls: int) -> tuple[int, int]:
    """(start token, end token) of the answer chars [start_char, end_char) in one window.

    ``offsets`` (T, 2), ``context_mask`` (T,). Returns (cls, cls) when the window does not
    contain the whole answer.
    """
    idx = np.flatnonzero(context_mask)  # (C,) positions of context tokens
    if idx.size == 0 or offsets[idx[0], 0] > start_char or offsets[idx[-1], 1] < end_char:
        return cls, cls
    starts = offsets[idx, 0]  # (C,)
    ends = offsets[idx, 1]  # (C,)
    first = idx[np.flatnonzero(starts <= start_char)[-1]]
    last = idx[np.flatnonzero(ends >= end_char)[0]]
    if last < first:  # answer inside a single token's whitespace gap: cannot happen for aligned spans
        return cls, cls
    return int(first), int(last)


def build_features(
    encoder: Encoder,
    questions: Sequence[str],
    contexts: Sequence[str],
    *,
    doc_stride: int,
    max_question_length: int,
    answers: Sequence[tuple[int, int] | None] | None = None,
) -> QAFeatures:
    """Tokenize (question, context) pairs into windows of ``encoder.max_length`` tokens.

    ``answers`` (for training) gives per question the answer's character span
    ``(start, end)`` in its context, or None for an unanswerable question.
    """
    if len(questions) != len(contexts):
        raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts")
    check_lengths(encoder.max_length, doc_stride, max_question_length)
    tokenizer = encoder.tokenizer
    questions, cut = truncate_questions(encoder.encode, questions, max_question_length)  # locked: thread-safe
    windows = encoder.tokenize(questions, list(contexts), windows=True, stride=doc_stride, offsets=True, sequence_ids=True)
    cls_id = tokenizer.cls_token_id
    offsets_list: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    cls_index: list[int] = []
    for feat, seq_ids in zip(windows.features, windows.sequence_ids):
        mask = np.array([s == 1 for s in seq_ids], dtype=bool)  # (T,)
        offs = np.asarray(feat.pop("offset_mapping"), dtype=np.int64).reshape(-1, 2)  # (T, 2)
        offsets_list.append(np.where(mask[:, None], offs, -1))
        masks.append(mask)
        ids = feat["input_ids"]
        cls_index.append(ids.index(cls_id) if cls_id is not None and cls_id in ids else 0)
    features = QAFeatures(windows, offsets_list, masks, cls_index, len(questions), cut)
    if answers is not None:
        for w, example in enumerate(windows.sample):
            span = answers[example]
            if span is None:
                s = e = cls_index[w]
            else:
                s, e = label_window(offsets_list[w], masks[w], span[0], span[1], cls_index[w])
            features.start_positions.append(s)
            features.end_positions.append(e)
    return features
