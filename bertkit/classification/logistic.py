"""Multinomial logistic regression solved exactly: full-batch L-BFGS on the L2-regularised
mean cross-entropy, the convex problem scikit-learn's ``LogisticRegression`` solves.

``l2`` here is the penalty on the *mean* loss, ``mean CE + l2 / 2 * ||W||^2`` (the bias is
not penalised); scikit-learn's ``C`` on ``n`` rows corresponds to ``l2 = 1 / (C * n)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["CV_FOLDS", "L2_GRID", "LogisticFit", "fit_logistic", "logistic_logits", "select_l2", "select_l2_cv", "stratified_folds"]

L2_GRID: tuple[float, ...] = tuple(float(x) for x in np.logspace(-6, 1, 15))  # half-decade steps
CV_FOLDS = 5


@dataclass
class LogisticFit:
    weight: Tensor  # (C, D) float64
    bias: Tensor  # (C,) float64
    l2: float
    iterations: int


def logistic_logits(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """# (N, D) x (C, D) x (C,) -> (N, C)"""
    return x @ weight.T + bias


def _penalised_loss(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, l2: float) -> Tensor:
    return torch.nn.functional.cross_entropy(logistic_logits(x, weight, bias), y) + 0.5 * l2 * weight.pow(2).sum()


def fit_logistic(
    x: Tensor, y: Tensor, num_classes: int, l2: float, *,
    init: tuple[Tensor, Tensor] | None = None, max_iter: int = 1000, tol: float = 1e-7,
) -> LogisticFit:
    """Minimise ``mean CE + l2/2 ||W||^2`` over (W, b) with L-BFGS (strong Wolfe line search).
    # x (N, D), y (N,) int64 -> W (C, D), b (C,)"""
    if l2 <= 0:
        raise ValueError(f"l2 must be > 0 (the problem is unbounded on separable data), got {l2}")
    x = x.double()
    if init is None:
        weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64)
        bias = torch.zeros(num_classes, dtype=torch.float64)
    else:
        weight, bias = (t.detach().clone().double() for t in init)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    opt = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=max_iter, max_eval=max_iter * 2, tolerance_grad=tol,
        tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = _penalised_loss(x, y, weight, bias, l2)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    iterations = int(opt.state[weight].get("n_iter", 0))
    return LogisticFit(weight.detach(), bias.detach(), l2, iterations)


def _scores(x: Tensor, y: Tensor, fit: LogisticFit) -> tuple[float, float]:
    logits = logistic_logits(x.double(), fit.weight, fit.bias)
    loss = float(torch.nn.functional.cross_entropy(logits, y))
    return loss, float((logits.argmax(dim=1) == y).double().mean())


def select_l2(
    x_fit: Tensor, y_fit: Tensor, x_held: Tensor, y_held: Tensor, num_classes: int, grid: Sequence[float] = L2_GRID,
) -> tuple[LogisticFit, list[dict]]:
    """Fit every ``l2`` of ``grid`` (strongest first, warm-started) and keep the one with the
    lowest held-out log-loss. Returns that fit and one record per grid point."""
    path = _path(x_fit, y_fit, x_held, y_held, num_classes, grid)
    best, _ = min(path, key=lambda item: item[1]["loss"])
    return best, [record for _, record in path]


def _path(x_fit: Tensor, y_fit: Tensor, x_held: Tensor, y_held: Tensor, num_classes: int, grid: Sequence[float]) -> list[tuple[LogisticFit, dict]]:
    """Fits along ``grid`` (strongest penalty first, each warm-started from the last), scored on the held-out rows."""
    out: list[tuple[LogisticFit, dict]] = []
    init = None
    for l2 in sorted(grid, reverse=True):
        fit = fit_logistic(x_fit, y_fit, num_classes, l2, init=init)
        init = (fit.weight, fit.bias)
        train_loss, _ = _scores(x_fit, y_fit, fit)
        loss, accuracy = _scores(x_held, y_held, fit)
        out.append((fit, {"l2": l2, "train_loss": train_loss, "loss": loss, "accuracy": accuracy, "iterations": fit.iterations}))
    return out


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """Row indices of ``folds`` folds, each class dealt round-robin after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        for j, row in enumerate(idx.tolist()):
            parts[(j + offset) % folds].append(row)
        offset += len(idx)
    return [np.array(sorted(p), dtype=np.int64) for p in parts]


def select_l2_cv(
    x: Tensor, y: Tensor, num_classes: int, *, folds: int = CV_FOLDS, seed: int = 0, grid: Sequence[float] = L2_GRID,
) -> tuple[float, list[dict]]:
    """The ``l2`` of ``grid`` with the lowest mean held-out log-loss over ``folds`` stratified
    folds (the penalty as used on the fold's training rows), and one record per grid point
    with the mean held-out loss and accuracy. # x (N, D), y (N,) -> l2"""
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    parts = stratified_folds(y.numpy(), folds, seed)
    if min(len(p) for p in parts) == 0:
        raise ValueError(f"{len(y)} rows are too few for {folds} folds")
    totals: dict[float, dict] = {}
    for k, held in enumerate(parts):
        rest = torch.from_numpy(np.concatenate([p for j, p in enumerate(parts) if j != k]))
        held_t = torch.from_numpy(held)
        for _, record in _path(x[rest], y[rest], x[held_t], y[held_t], num_classes, grid):
            slot = totals.setdefault(record["l2"], {"l2": record["l2"], "train_loss": 0.0, "loss": 0.0, "accuracy": 0.0, "iterations": 0})
            for key in ("train_loss", "loss", "accuracy"):
                slot[key] += record[key] / folds
            slot["iterations"] += record["iterations"]
    records = [totals[l2] for l2 in sorted(totals, reverse=True)]
    best = min(records, key=lambda r: r["loss"])
    return best["l2"], records
