"""Turn per-window start/end logits into answer spans of the original context (pure NumPy).

For one question with W windows:

1. a context token may appear in several overlapping windows; a span may *start* only
   in the window where its start token has the most context around it (the smaller of
   its left and right context, as in the original BERT code);
2. in each window take the top-n start and top-n end positions among context tokens,
   and keep the pairs with end >= start and at most ``max_answer_length`` tokens;
3. score = start logit + end logit; each span is widened to whole words of the context
   (a span never starts or ends inside a word: a sub-word piece such as ``##ver`` of
   "Denver" becomes "Denver", like the transformers pipeline's ``align_to_words``; a
   word is a run of letters and digits, so punctuation stays a boundary); spans from all
   windows are merged, the same character span found twice keeps its best score, and
   the n best are kept;
4. the null ("no answer") score is the smallest ``[CLS]`` score over the windows; with
   ``with_null`` the answer is "no answer" when null score - best span score exceeds
   ``null_threshold``;
5. each candidate gets a probability: the softmax of the scores over the n-best
   (the null candidate included when ``with_null``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Candidate", "Decoded", "align_to_words", "max_context_mask", "decode_spans"]


@dataclass(frozen=True)
class Candidate:
    text: str  # "" for the null answer
    start: int  # character offsets in the context; -1 for the null answer
    end: int
    score: float
    probability: float = 0.0

    @property
    def is_null(self) -> bool:
        return self.start < 0


@dataclass(frozen=True)
class Decoded:
    answer: Candidate | None  # the chosen answer; None means "no answer"
    candidates: list[Candidate]  # the n best spans, best first (plus the null one when with_null)
    null_score: float  # smallest [CLS] score over the windows
    best_span_score: float | None  # best non-null score; None when no valid span exists

    @property
    def null_odds(self) -> float:
        """null score - best span score (higher: more likely unanswerable)."""
        return self.null_score - (self.best_span_score if self.best_span_score is not None else -np.inf)


def max_context_mask(offsets: Sequence[np.ndarray], context_mask: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per window (T,) bool: True where a context token has its maximum context.

    A token is identified across windows by its character span. Its context in a window
    is min(tokens left of it, tokens right of it) + 0.01 x window context length; the
    first window with the highest value wins.
    """
    best: dict[tuple[int, int], tuple[float, int]] = {}
    for w, (offs, mask) in enumerate(zip(offsets, context_mask)):
        idx = np.flatnonzero(mask)  # (C,)
        n = idx.size
        for j, pos in enumerate(idx.tolist()):
            key = (int(offs[pos, 0]), int(offs[pos, 1]))
            score = min(j, n - 1 - j) + 0.01 * n
            if key not in best or score > best[key][0]:
                best[key] = (score, w)
    out: list[np.ndarray] = []
    for w, (offs, mask) in enumerate(zip(offsets, context_mask)):
        keep = np.zeros(mask.shape, dtype=bool)
        for pos in np.flatnonzero(mask).tolist():
            keep[pos] = best[(int(offs[pos, 0]), int(offs[pos, 1]))][1] == w
        out.append(keep)
    return out


def align_to_words(context: str, start: int, end: int) -> tuple[int, int]:
    """Widen the character span ``[start, end)`` so it neither starts nor ends inside a word
    (a maximal run of ``str.isalnum`` characters) of ``context``, then trim the whitespace at
    its ends (SentencePiece and byte-level offsets, DeBERTa-v3's, count the space before a
    word as the word's)."""
    while 0 < start < len(context) and context[start - 1].isalnum() and context[start].isalnum():
        start -= 1
    while 0 < end < len(context) and context[end - 1].isalnum() and context[end].isalnum():
        end += 1
    while start < end and context[start].isspace():
        start += 1
    while end > start and context[end - 1].isspace():
        end -= 1
    return start, end


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def _window_spans(
    start: np.ndarray, end: np.ndarray, can_start: np.ndarray, can_end: np.ndarray, n_best: int, max_answer_length: int
) -> list[tuple[float, int, int]]:
    """(score, start pos, end pos) of valid spans in one window. All inputs (T,)."""
    starts = np.flatnonzero(can_start)
    ends = np.flatnonzero(can_end)
    if starts.size == 0 or ends.size == 0:
        return []
    starts = starts[np.argsort(-start[starts], kind="stable")[:n_best]]  # (S,)
    ends = ends[np.argsort(-end[ends], kind="stable")[:n_best]]  # (E,)
    length = ends[None, :] - starts[:, None] + 1  # (S, E)
    valid = (length >= 1) & (length <= max_answer_length)
    scores = start[starts][:, None] + end[ends][None, :]  # (S, E)
    si, ei = np.nonzero(valid)
    return [(float(scores[a, b]), int(starts[a]), int(ends[b])) for a, b in zip(si.tolist(), ei.tolist())]


def decode_spans(
    start_logits: Sequence[np.ndarray],
    end_logits: Sequence[np.ndarray],
    offsets: Sequence[np.ndarray],
    context_mask: Sequence[np.ndarray],
    context: str,
    *,
    cls_index: Sequence[int] | None = None,
    n_best: int = 20,
    max_answer_length: int = 30,
    with_null: bool = False,
    null_threshold: float = 0.0,
) -> Decoded:
    """Decode one question from its windows.

    Per window: ``start_logits``/``end_logits`` (T,) floats, ``offsets`` (T, 2) character
    spans in ``context``, ``context_mask`` (T,) True on context tokens (never on the
    question or special tokens), ``cls_index`` the ``[CLS]`` position (default 0).
    """
    if not start_logits:
        raise ValueError("decode_spans needs at least one window")
    if n_best < 1 or max_answer_length < 1:
        raise ValueError("n_best and max_answer_length must be >= 1")
    cls_index = list(cls_index) if cls_index is not None else [0] * len(start_logits)
    starts_ok = max_context_mask(offsets, context_mask)
    found: dict[tuple[int, int], float] = {}
    null_score = np.inf
    for w in range(len(start_logits)):
        start = np.asarray(start_logits[w], dtype=np.float64)  # (T,)
        end = np.asarray(end_logits[w], dtype=np.float64)  # (T,)
        mask = np.asarray(context_mask[w], dtype=bool)  # (T,)
        offs = np.asarray(offsets[w])  # (T, 2)
        c = cls_index[w]
        null_score = min(null_score, float(start[c] + end[c]))
        for score, s, e in _window_spans(start, end, mask & starts_ok[w], mask, n_best, max_answer_length):
            key = align_to_words(context, int(offs[s, 0]), int(offs[e, 1]))
            if key[1] > key[0] and score > found.get(key, -np.inf):
                found[key] = score
    ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:n_best]
    pool = [(score, s, e) for (s, e), score in ranked]
    best_span = pool[0][0] if pool else None
    if with_null:
        pool.append((null_score, -1, -1))  # the n best spans and the null answer
    probs = _softmax(np.array([t[0] for t in pool])) if pool else np.array([])
    candidates = [
        Candidate(context[s:e] if s >= 0 else "", s, e, score, float(p)) for (score, s, e), p in zip(pool, probs)
    ]
    candidates.sort(key=lambda c: -c.score)
    spans = [c for c in candidates if not c.is_null]
    answer = spans[0] if spans else None
    if with_null and answer is not None and null_score - answer.score > null_threshold:
        answer = None
    return Decoded(answer, candidates, float(null_score), best_span)
