"""The official SQuAD evaluation (v1.1 and v2.0 scripts), with the same output keys.

v1.1 (``evaluate-v1.1.py``): answers normalised (lower case, punctuation and articles
removed, whitespace collapsed); exact match and token F1, each the best over the
reference answers; ``{"exact_match", "f1"}`` in percent.

v2.0 (``evaluate-v2.0.py``): the same, where an unanswerable question's only reference
is the empty string; scores over all questions and separately over the answerable
(``HasAns_*``) and unanswerable (``NoAns_*``) ones; given no-answer probabilities
(``na_probs``, any score where higher means "more likely no answer") also the best
exact and F1 over all thresholds (``best_exact``, ``best_exact_thresh``, ``best_f1``,
``best_f1_thresh``).
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Mapping, Sequence

__all__ = ["normalize_answer", "exact_match_score", "f1_score", "squad_v1", "squad_v2"]

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    return normalize_answer(s).split() if s else []


def exact_match_score(prediction: str, ground_truth: str) -> int:
    return int(normalize_answer(prediction) == normalize_answer(ground_truth))


def _overlap_f1(pred: list[str], gold: list[str]) -> float:
    """Harmonic mean of token precision and recall (0 when nothing overlaps)."""
    same = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, ground_truth: str) -> float:
    """Token F1 (v2.0 rule: if either side is empty, 1 when both are, else 0)."""
    pred, gold = _tokens(prediction), _tokens(ground_truth)
    if not pred or not gold:
        return float(pred == gold)
    return _overlap_f1(pred, gold)


def _f1_v1(prediction: str, ground_truth: str) -> float:
    """v1.1's F1: no special case for empty strings (an empty side scores 0)."""
    return _overlap_f1(normalize_answer(prediction).split(), normalize_answer(ground_truth).split())


def squad_v1(references: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> dict[str, float]:
    """``references``: question id -> reference answer texts; ``predictions``: id -> text.

    Questions without a prediction score 0, as in the official script.
    """
    total = len(references)
    if total == 0:
        return {"exact_match": 0.0, "f1": 0.0}
    em = f1 = 0.0
    for qid, truths in references.items():
        if qid not in predictions:
            continue
        pred = predictions[qid]
        em += max(exact_match_score(pred, t) for t in truths)
        f1 += max(_f1_v1(pred, t) for t in truths)
    return {"exact_match": 100.0 * em / total, "f1": 100.0 * f1 / total}


def _raw_scores(references: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> tuple[dict, dict]:
    exact: dict[str, int] = {}
    f1: dict[str, float] = {}
    for qid, truths in references.items():
        gold = [t for t in truths if normalize_answer(t)] or [""]
        if qid not in predictions:
            continue
        pred = predictions[qid]
        exact[qid] = max(exact_match_score(pred, g) for g in gold)
        f1[qid] = max(f1_score(pred, g) for g in gold)
    return exact, f1


def _apply_threshold(scores: dict, na_probs: Mapping[str, float], has_ans: Mapping[str, bool], thresh: float) -> dict:
    return {qid: (float(not has_ans[qid]) if na_probs[qid] > thresh else s) for qid, s in scores.items()}


def _eval_dict(exact: dict, f1: dict, qids: Sequence[str] | None = None) -> dict[str, float]:
    qids = list(exact) if qids is None else list(qids)
    total = len(qids)
    if total == 0:
        return {"exact": 0.0, "f1": 0.0, "total": 0}
    return {
        "exact": 100.0 * sum(exact.get(k, 0) for k in qids) / total,
        "f1": 100.0 * sum(f1.get(k, 0) for k in qids) / total,
        "total": total,
    }


def _best_threshold(predictions, scores, na_probs, has_ans) -> tuple[float, float]:
    num_no_ans = sum(1 for k in has_ans if not has_ans[k])
    current = best = num_no_ans
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        if has_ans[qid]:
            diff = scores[qid]
        else:
            diff = -1 if predictions[qid] else 0
        current += diff
        if current > best:
            best, best_thresh = current, na_probs[qid]
    return 100.0 * best / len(scores), best_thresh


def squad_v2(
    references: Mapping[str, Sequence[str]],
    predictions: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict[str, float]:
    """The v2.0 metric. ``references`` of an unanswerable question: an empty list."""
    probs = dict(na_probs) if na_probs is not None else {k: 0.0 for k in predictions}
    has_ans = {qid: bool([t for t in truths if normalize_answer(t)]) for qid, truths in references.items()}
    exact_raw, f1_raw = _raw_scores(references, predictions)
    probs_for = {k: probs.get(k, 0.0) for k in exact_raw}
    exact = _apply_threshold(exact_raw, probs_for, has_ans, na_prob_thresh)
    f1 = _apply_threshold(f1_raw, probs_for, has_ans, na_prob_thresh)
    out = _eval_dict(exact, f1, list(references))
    has = [k for k, v in has_ans.items() if v]
    no = [k for k, v in has_ans.items() if not v]
    for prefix, qids in (("HasAns", has), ("NoAns", no)):
        if qids:
            out.update({f"{prefix}_{k}": v for k, v in _eval_dict(exact, f1, qids).items()})
    if na_probs is not None and exact_raw:
        best_exact, exact_thresh = _best_threshold(predictions, exact_raw, probs_for, has_ans)
        best_f1, f1_thresh = _best_threshold(predictions, f1_raw, probs_for, has_ans)
        out.update(best_exact=best_exact, best_exact_thresh=exact_thresh, best_f1=best_f1, best_f1_thresh=f1_thresh)
    return out
