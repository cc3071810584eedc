"""Why a classifier chose its label: a weight per token.

Two methods, picked by the model:

* ``attention``: the attention-pooling head's weight of each token (they sum to 1): what
  the pooled vector is made of. Models with an attention-pooling head use it.
* ``occlusion``: for every other model, each token is left out in turn (its attention
  mask set to 0, so no layer and no pooling sees it) and the predicted label is scored
  again; the token's weight is how much the label's log-odds, log(p / (1 - p)), drop
  without it (negative: the token argued against the label). Log-odds, not probability,
  so that tokens still count when the model is sure (0.997 and 0.99 differ by 1.2). Special
  tokens get 0. It costs one forward pass per token, batched.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["METHODS", "occlusion_batch", "occlusion_weights", "log_odds"]

METHODS = ("attention", "occlusion")


def occlusion_batch(batch: dict[str, Tensor], positions: list[int]) -> dict[str, Tensor]:
    """One text's batch (1, T) -> (1 + K, T): the text, then one copy per position in
    ``positions`` with that token masked out. The input is not modified."""
    k = len(positions)
    out = {key: value.expand(1 + k, -1).clone() for key, value in batch.items()}  # (1+K, T)
    rows = torch.arange(1, 1 + k)
    out["attention_mask"][rows, torch.tensor(positions, dtype=torch.long)] = 0
    return out


def occlusion_weights(
    run: Callable[[dict[str, Tensor]], np.ndarray], batch: dict[str, Tensor], special: list[bool], *, chunk: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities of the whole text (C,), weight per token (T,)): the drop of the
    predicted label's log-odds when each non-special token is masked out.

    ``run(batch) -> (B, C)`` gives label probabilities; ``special`` (T,) marks the tokens
    never masked ([CLS], [SEP], padding)."""
    positions = [i for i, s in enumerate(special) if not s]
    full = run(batch)[0]  # (C,)
    label = int(np.argmax(full))
    weights = np.zeros(len(special), dtype=np.float32)  # (T,)
    for start in range(0, len(positions), chunk):
        part = positions[start : start + chunk]
        probs = run(occlusion_batch(batch, part))[1:]  # (K, C)
        weights[part] = log_odds(full[label]) - log_odds(probs[:, label])
    return full, weights


def log_odds(p: np.ndarray | float) -> np.ndarray:
    """log(p / (1 - p)), clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(q) - np.log1p(-q)
