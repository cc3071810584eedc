"""What a classifier returns: :class:`Prediction` per text and :class:`Explanation` per
explained text, built from probabilities by :func:`make_prediction`.

Torch-free, so the Classifier (torch or ONNX behind it) and its warm start
(:mod:`bertkit.classification.warm`, which never imports torch) return the same results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MULTI_LABEL_THRESHOLD", "Prediction", "Explanation", "make_prediction"]

MULTI_LABEL_THRESHOLD = 0.5  # a multi-label model predicts every label whose sigmoid is over this


@dataclass
class Prediction:
    label: str  # the most probable label
    probabilities: dict[str, float]  # every label, in label-map order (multi-label: each label's own sigmoid)
    top: list[tuple[str, float]]  # the top-k labels, best first
    labels: list[str] = field(default_factory=list)  # predicted labels: [label], or for multi-label every one over 0.5

    def to_dict(self) -> dict:
        return {"label": self.label, "labels": list(self.labels), "probabilities": dict(self.probabilities),
                "top": [[name, p] for name, p in self.top]}


@dataclass
class Explanation:
    tokens: list[str]
    weights: list[float]  # attention: pooling weight per token (sums to 1); occlusion: drop of the label's log-odds without it
    prediction: Prediction
    method: str = "attention"  # attention | occlusion (see bertkit.classification.explain)

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens), "weights": list(self.weights), "prediction": self.prediction.to_dict(), "method": self.method}


def make_prediction(p: np.ndarray, labels: list[str], top_k: int, multi_label: bool = False) -> Prediction:
    """The Prediction for one row of probabilities ``p`` (C,) over ``labels``."""
    order = np.argsort(-p, kind="stable")[: min(top_k, len(labels))]
    best = labels[int(order[0])]
    chosen = [label for label, v in zip(labels, p) if v > MULTI_LABEL_THRESHOLD] if multi_label else [best]
    return Prediction(
        best,
        {label: float(v) for label, v in zip(labels, p)},
        [(labels[int(i)], float(p[i])) for i in order],
        chosen,
    )
