"""Where the model looks for the answer: start and end probabilities over the context tokens."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bertkit.io.files import save_figure
from bertkit.qa.decode import max_context_mask
from bertkit.qa.predict import Predictions

__all__ = ["TokenProbabilities", "token_probabilities", "plot_token_probabilities"]


@dataclass
class TokenProbabilities:
    tokens: list[str]  # context tokens in order (each from the window where it has most context)
    spans: list[tuple[int, int]]  # their character spans in the context
    start: np.ndarray  # (N,) probability that the answer starts at the token
    end: np.ndarray  # (N,) probability that it ends there


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def token_probabilities(predictions: Predictions, question: int, tokenizer) -> TokenProbabilities:
    """Per context token of one question: softmax of its window's start and end logits."""
    feats = predictions.features
    windows = predictions.windows_of(question)
    offsets = [feats.offsets[w] for w in windows]
    masks = [feats.context_mask[w] for w in windows]
    keep = max_context_mask(offsets, masks)
    rows: list[tuple[int, int, str, float, float]] = []
    for k, w in enumerate(windows):
        p_start = _softmax(np.asarray(predictions.start_logits[w], dtype=np.float64))  # (T,)
        p_end = _softmax(np.asarray(predictions.end_logits[w], dtype=np.float64))  # (T,)
        ids = feats.windows.features[w]["input_ids"]
        for pos in np.flatnonzero(keep[k]).tolist():
            token = tokenizer.convert_ids_to_tokens(int(ids[pos]))
            rows.append((int(offsets[k][pos, 0]), int(offsets[k][pos, 1]), token, float(p_start[pos]), float(p_end[pos])))
    rows.sort(key=lambda r: (r[0], r[1]))
    return TokenProbabilities(
        tokens=[r[2] for r in rows],
        spans=[(r[0], r[1]) for r in rows],
        start=np.array([r[3] for r in rows]),
        end=np.array([r[4] for r in rows]),
    )


def plot_token_probabilities(probs: TokenProbabilities, path: str | os.PathLike, title: str = "") -> Path:
    """Start and end probabilities per context token as a PNG (token labels when they fit)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(probs.tokens)
    x = np.arange(n)
    fig, ax = plt.subplots(figsize=(min(24, max(8, 0.22 * n)), 4))
    ax.bar(x - 0.2, probs.start, width=0.4, label="start")
    ax.bar(x + 0.2, probs.end, width=0.4, label="end")
    if n <= 120:
        ax.set_xticks(x)
        ax.set_xticklabels(probs.tokens, rotation=90, fontsize=7)
    else:
        ax.set_xlabel("context token")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.set_title(title[:120])
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
