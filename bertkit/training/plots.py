"""Training curves as a PNG: loss and the dev metrics per epoch."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bertkit.io.files import save_figure

__all__ = ["plot_training_curves"]

_SKIP = ("epoch", "train_loss", "lr", "frozen", "seconds")


def plot_training_curves(history: Sequence[dict], path: str | os.PathLike, title: str = "training") -> Path:
    """Two panels: train (and dev) loss, and every other dev metric, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    if history and "loss" in history[0]:
        ax_loss.plot(epochs, [h["loss"] for h in history], marker="o", label="dev loss")
    frozen = [h["epoch"] for h in history if h.get("frozen")]
    if frozen:
        ax_loss.axvspan(min(frozen) - 0.5, max(frozen) + 0.5, color="grey", alpha=0.15, label="encoder frozen")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_title("loss")
    ax_loss.legend()
    keys = [k for k in (history[0] if history else {}) if k not in _SKIP and k != "loss" and isinstance(history[0][k], (int, float))]
    for key in keys:
        ax_metric.plot(epochs, [h.get(key) for h in history], marker="o", label=f"dev {key}")
    ax_metric.set_xlabel("epoch")
    ax_metric.set_title("dev metrics")
    if keys:
        ax_metric.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
