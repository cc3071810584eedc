"""The quality gate: how close a backend's vectors are to torch fp32.

int8 is only worth its speed if its vectors stay close; a model whose int8 vectors
drift (mean cosine below ``INT8_MIN_MEAN_COSINE``) is refused for int8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy loads on first use: the CLI reads the gate for its --help
    import numpy as np

__all__ = ["INT8_MIN_MEAN_COSINE", "INT8_MAX_METRIC_DROP", "CALIBRATION_TEXTS", "Agreement", "agreement"]

INT8_MIN_MEAN_COSINE = 0.99
INT8_MAX_METRIC_DROP = 0.5  # points of accuracy (classification) or F1 (QA) int8 may lose to fp32

# A fixed, varied sample (short and long, punctuation, numbers, accents, questions)
# used to vet an int8 export before it is used at all.
CALIBRATION_TEXTS = [
    "A gorgeous, witty film that stays with you.",
    "The plot is a mess and the acting is worse.",
    "Who wrote War and Peace?",
    "Leo Tolstoy wrote War and Peace, published in 1869.",
    "The stock market fell 3.2% on Monday after the announcement.",
    "Naïve café owners in Zürich serve crème brûlée.",
    "hello",
    "",
    "It is not that the movie is bad; it is that it never decides what it wants to be.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The committee will meet on 12 March to discuss the budget for the next fiscal year.",
    "Can you recommend a good book about the history of mathematics?",
    "I loved it!!!",
    "Terrible service, cold food, and a rude waiter. Never again.",
    "The mitochondria is the powerhouse of the cell.",
    "In 1969, Neil Armstrong became the first person to walk on the Moon.",
    "Rain is expected throughout the weekend, with temperatures around 12 degrees.",
    "This phone's battery lasts two days, but the camera is mediocre in low light.",
    "Quantum computers use qubits, which can represent 0 and 1 at the same time.",
    "The recipe calls for two cups of flour, one egg and a pinch of salt.",
    "An unexpectedly moving portrait of a family coming apart, and together again.",
    "Error 404: the page you requested could not be found.",
    "She sells sea shells by the sea shore.",
    "The treaty was signed in Paris, ending years of conflict between the two nations.",
] + [
    " ".join(["The river flows past the old mill and the quiet village at dusk."] * 6),
    " ".join(["Results were mixed: accuracy improved, but latency doubled in production."] * 4),
]


@dataclass
class Agreement:
    mean_cosine: float
    worst_cosine: float
    n: int

    def __str__(self) -> str:
        return f"mean cosine {self.mean_cosine:.5f}, worst {self.worst_cosine:.5f} over {self.n} texts"


def agreement(reference: np.ndarray, candidate: np.ndarray) -> Agreement:
    """Row-wise cosine between two (N, D) arrays. Zero rows count as cosine 1 with each other."""
    import numpy as np

    ref = reference.astype(np.float64)
    cand = candidate.astype(np.float64)
    num = (ref * cand).sum(1)
    den = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    cos = np.where(den > 0, num / np.maximum(den, 1e-300), 1.0)
    return Agreement(float(cos.mean()), float(cos.min()), len(cos))
