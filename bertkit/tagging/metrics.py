"""Entity-level precision, recall and F1, per type and micro-averaged."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bertkit.tagging.schemes import entity_spans

__all__ = ["entity_report"]


def _prf(tp: int, n_pred: int, n_true: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": n_true, "predicted": n_pred}


def entity_report(
    true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, mode: str = "conlleval", scheme: str = "BIO"
) -> dict:
    """``{"micro": {...}, "per_type": {type: {...}}, "mode": mode}``; entities match exactly (type and span)."""
    if len(true) != len(pred):
        raise ValueError(f"{len(true)} true sentences but {len(pred)} predicted")
    tp: Counter = Counter()
    n_true: Counter = Counter()
    n_pred: Counter = Counter()
    for i, (t, p) in enumerate(zip(true, pred)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: {len(t)} true tags but {len(p)} predicted")
        gold = set(entity_spans(t, mode, scheme))
        guess = set(entity_spans(p, mode, scheme))
        for kind, _, _ in gold:
            n_true[kind] += 1
        for kind, _, _ in guess:
            n_pred[kind] += 1
        for kind, _, _ in gold & guess:
            tp[kind] += 1
    kinds = sorted(set(n_true) | set(n_pred))
    per_type = {k: _prf(tp[k], n_pred[k], n_true[k]) for k in kinds}
    micro = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_true.values()))
    return {"mode": mode, "micro": micro, "per_type": per_type}
