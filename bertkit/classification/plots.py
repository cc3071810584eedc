"""PNG charts for classification: confusion matrix, pooling comparison, per-token weights."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bertkit.io.files import save_figure

__all__ = ["plot_confusion", "plot_comparison", "plot_token_weights"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    return save_figure(fig, path, tight=True)


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: str | os.PathLike) -> Path:
    plt = _plt()
    m = np.asarray(matrix)
    size = 2.5 + 0.6 * len(labels)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_title("confusion matrix")
    return _save(fig, path)


def plot_comparison(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Bars of accuracy and macro-F1 per pooling (rows: pooling, accuracy, macro_f1, seconds)."""
    plt = _plt()
    names = [r["pooling"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 2, 4))
    ax.bar(x - 0.2, [r["accuracy"] for r in rows], 0.4, label="accuracy")
    ax.bar(x + 0.2, [r["macro_f1"] for r in rows], 0.4, label="macro-F1")
    low = min(min(r["accuracy"], r["macro_f1"]) for r in rows)
    ax.set_ylim(max(0.0, low - 0.1), 1.0)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("dev score")
    ax.set_title("pooling comparison")
    ax.legend()
    return _save(fig, path)


def plot_token_weights(tokens: Sequence[str], weights: Sequence[float], path: str | os.PathLike, title: str = "",
                       ylabel: str = "attention-pooling weight") -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(tokens) + 1), 3))
    ax.bar(range(len(tokens)), weights, color=["tab:orange" if w >= 0 else "tab:red" for w in weights])
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xticks(range(len(tokens)), tokens, rotation=60, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title or ylabel)
    return _save(fig, path)
