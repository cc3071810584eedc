"""Features mode: train only the pooling head on cached encoder outputs.

Every choice is made on the *training* data (cross-validation folds, or a held-out
``HELD_OUT_FRACTION`` of each class, seeded); the dev set is only scored at the end:

* the cached features are standardised with the training set's mean and standard
  deviation, stored in the head (``feature_mean`` / ``feature_std``) so prediction and
  ONNX export apply the same transform;
* a linear head on pooled vectors is multinomial logistic regression solved exactly
  (full-batch L-BFGS, :mod:`bertkit.classification.logistic`): the L2 penalty is chosen by
  stratified 5-fold cross-validation on the training rows (lowest mean held-out log-loss,
  the default criterion of scikit-learn's ``LogisticRegressionCV`` from 1.11), then the head is refitted on
  every training row;
* the learned poolings (``weighted_layer``, ``attention``) start as that same exact
  logistic regression on their initial pooled vectors (uniform token weights, equal
  layer weights), fitted (L2 by cross-validation) on train less a held-out part
  (``HELD_OUT_FRACTION`` of each class, seeded); AdamW then trains pooling and
  classifier together, and the epoch kept is the best on the held-out part, the starting point
  (epoch 0) included, so training can only replace it by something better there;
* an MLP head (``--hidden``) trains with AdamW, the epoch kept being the best on the
  held-out part.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bertkit.classification.data import Examples, LabelMap
from bertkit.classification.features import Features, head_inputs
from bertkit.classification.logistic import CV_FOLDS, fit_logistic, select_l2_cv
from bertkit.classification.metrics import classification_report
from bertkit.classification.model import PoolingHead, cross_entropy
from bertkit.classification.options import RunOptions
from bertkit.training import Trainer, TrainResult, grouped_batches

__all__ = ["HELD_OUT_FRACTION", "head_logits", "held_out_split", "feature_stats", "pooled_vectors", "train_head"]

HELD_OUT_FRACTION = 0.1
DEFAULT_L2 = 1e-3  # used only when the training data is too small to cross-validate


def head_logits(head: PoolingHead, features: Features, idx: list[int]) -> torch.Tensor:
    """Logits of ``head`` for rows ``idx`` of cached features. # -> (B, C)"""
    data, mask = features.batch(idx)
    device = next(head.parameters()).device
    inputs = head_inputs(head, features.request, data.to(device), mask.to(device) if mask is not None else None)
    if features.request.kind == "vectors":
        return head.classify(inputs)
    return head.forward_pooled(inputs)[0]


def held_out_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(fit rows, held-out rows): ``fraction`` of each class with 2+ rows is held out (at least one)."""
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        if len(idx) < 2:
            continue
        rng.shuffle(idx)
        take = min(max(int(round(len(idx) * fraction)), 1), len(idx) - 1)
        held.extend(idx[:take].tolist())
    held_set = set(held)
    return [i for i in range(len(labels)) if i not in held_set], sorted(held)


def feature_stats(data: np.ndarray, chunk: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and standard deviation of vectors ``(N, ..., D)`` (over every axis
    but the last). # -> (D,), (D,) float32; a constant dimension gets std 1."""
    dim = data.shape[-1]
    total, sums, squares = 0, np.zeros(dim), np.zeros(dim)
    for start in range(0, len(data), chunk):
        part = np.asarray(data[start : start + chunk], dtype=np.float64).reshape(-1, dim)
        total += len(part)
        sums += part.sum(axis=0)
        squares += (part * part).sum(axis=0)
    mean = sums / max(total, 1)
    std = np.sqrt(np.maximum(squares / max(total, 1) - mean * mean, 0.0))
    std = np.where(std < 1e-6, 1.0, std)
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32))


def pooled_vectors(head: PoolingHead, features: Features, chunk: int = 256) -> np.ndarray:
    """What ``head``'s pooling makes of every cached row, before standardisation. # -> (N, D)"""
    if features.vectors is not None:
        return features.vectors
    n = len(features.offsets) - 1
    device = next(head.parameters()).device
    out = []
    head.eval()
    with torch.no_grad():
        for start in range(0, n, chunk):
            data, mask = features.batch(range(start, min(start + chunk, n)))
            inputs = head_inputs(head, features.request, data.to(device), mask.to(device))
            out.append(head.pooling(inputs).vector.float().cpu().numpy())
    return np.concatenate(out)


def _lengths(features: Features, n: int) -> list[int]:
    return [1] * n if features.offsets is None else np.diff(features.offsets).tolist()


def _scores(head: PoolingHead, features: Features, rows: list[int], y: np.ndarray, label_map: LabelMap) -> dict:
    """Loss, accuracy and macro-F1 of ``head`` on ``rows`` of ``features``."""
    head.eval()
    with torch.no_grad():
        logits = torch.cat([head_logits(head, features, rows[i : i + 512]).float().cpu() for i in range(0, len(rows), 512)])
    report = classification_report(y[rows], logits.argmax(dim=1).numpy(), label_map.labels)
    loss = float(cross_entropy(logits, torch.from_numpy(y[rows])))
    return {"loss": loss, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def _cv_folds(rows: int) -> int:
    """CV_FOLDS; 2 for fewer than 2 * CV_FOLDS rows; 0 (no choice: DEFAULT_L2) for fewer than 4."""
    return CV_FOLDS if rows >= 2 * CV_FOLDS else 2 if rows >= 4 else 0


def _train_linear(head: PoolingHead, x: torch.Tensor, y: np.ndarray, seed: int, log) -> TrainResult:
    """Exact logistic regression on standardised vectors; L2 chosen by stratified k-fold CV on train."""
    labels = torch.from_numpy(y)
    num_classes = head.classifier.out_features
    folds = _cv_folds(len(y))
    if folds:
        chosen, records = select_l2_cv(x, labels, num_classes, folds=folds, seed=seed)
        l2 = chosen * (folds - 1) / folds  # the same C (sum-loss penalty) on all rows as on a fold's training rows
    else:
        records, l2 = [], DEFAULT_L2
    final = fit_logistic(x, labels, num_classes, l2)
    with torch.no_grad():
        head.classifier.weight.copy_(final.weight.float())
        head.classifier.bias.copy_(final.bias.float())
    history = [{"epoch": i + 1, **r} for i, r in enumerate(records)]
    best = min(history, key=lambda r: r["loss"]) if history else None
    if best is not None:
        log(f"L-BFGS logistic regression: l2 {best['l2']:.1e} chosen by {folds}-fold cross-validation on train "
            f"(mean held-out accuracy {best['accuracy']:.4f}); refitted on all {len(y)} rows in {final.iterations} iterations")
    return TrainResult(
        history=history, best_metric=best["accuracy"] if best else None, best_epoch=best["epoch"] if best else None,
        stopped_early=False, resumed_at=None, seconds=0.0, steps=final.iterations, examples=len(y),
        extra={"solver": "lbfgs", "l2": l2, "C": 1.0 / (l2 * len(y)), "cv_folds": folds},
    )


def _warm_start(head: PoolingHead, x: torch.Tensor, y: np.ndarray, fit: list[int], seed: int, log) -> None:
    """The classifier layer := exact logistic regression on the fit rows, L2 chosen by CV on them
    (the held-out rows stay unseen, for choosing the epoch)."""
    rows = torch.as_tensor(fit)
    x_fit, y_fit = x[rows], torch.from_numpy(y)[rows]
    num_classes = head.classifier.out_features
    folds = _cv_folds(len(fit))
    l2 = select_l2_cv(x_fit, y_fit, num_classes, folds=folds, seed=seed)[0] * (folds - 1) / folds if folds else DEFAULT_L2
    start = fit_logistic(x_fit, y_fit, num_classes, l2)
    with torch.no_grad():
        head.classifier.weight.copy_(start.weight.float())
        head.classifier.bias.copy_(start.bias.float())
    log(f"start: L-BFGS logistic regression on the initial pooling (l2 {l2:.1e} chosen by {folds}-fold cross-validation "
        f"on {len(fit)} rows)")


def _train_adamw(head, train: Features, y: np.ndarray, fit: list[int], held: list[int], label_map, run: RunOptions, work_dir, log,
                 resume_args: dict) -> TrainResult:
    """AdamW on the fit rows; the epoch kept is the best on the held-out rows (epoch 0: the start)."""
    y_all = torch.from_numpy(y)
    lengths = _lengths(train, len(y))
    fit_lengths = [lengths[i] for i in fit]

    def batches(epoch: int) -> list[list[int]]:
        return [[fit[j] for j in b] for b in grouped_batches(fit_lengths, run.batch_size, seed=run.seed, epoch=epoch)]

    def loss_fn(h: PoolingHead, idx: list[int]) -> torch.Tensor:
        return cross_entropy(head_logits(h, train, idx), y_all[idx].to(next(h.parameters()).device))

    def evaluate(h: PoolingHead) -> dict:
        scores = _scores(h, train, held, y, label_map)
        h.train()
        return scores

    config = run.train_config(dtype="fp32", checkpoint_every=0, layer_lr_decay=1.0, freeze_epochs=0, metric="accuracy",
                              resume_args=resume_args)
    start = _scores(head, train, held, y, label_map) if held else None
    start_state = copy.deepcopy(head.state_dict())
    trainer = Trainer(head, batches, loss_fn, evaluate if held else None, config, out_dir=work_dir, progress=run.progress, log=log)
    result = trainer.fit(resume=run.resume)
    if start is not None and (result.best_metric is None or start["accuracy"] >= result.best_metric):
        head.load_state_dict(start_state)
        result.best_metric, result.best_epoch = start["accuracy"], 0
        log(f"kept the starting point: held-out accuracy {start['accuracy']:.4f}, no epoch beat it")
    if start is not None:
        result.history.insert(0, {"epoch": 0, "train_loss": float("nan"), **start})
    result.extra.update({"solver": "adamw", "held_out": len(held)})
    return result


def train_head(
    head: PoolingHead,
    train: Features,
    dev: Features,
    train_examples: Examples,
    dev_examples: Examples,
    label_map: LabelMap,
    run: RunOptions,
    work_dir: Path,
    log: Callable[[str], None],
    *,
    resume_args: dict | None = None,
) -> TrainResult:
    """Train ``head`` on cached ``train`` features under ``run`` (a ``for_head`` copy);
    ``result.extra["dev"]`` holds its dev scores. A resume must also match ``resume_args``."""
    y = label_map.encode(train_examples.labels)
    fit, held = held_out_split(y, HELD_OUT_FRACTION, run.seed)
    pooled = pooled_vectors(head, train)  # (N, D): the initial pooling's for learned poolings
    if head.spec.standardize:
        mean, std = feature_stats(pooled)
        head.feature_mean.copy_(mean)
        head.feature_std.copy_(std)
    with torch.no_grad():
        x = head.standardized(torch.from_numpy(pooled).to(next(head.parameters()).device)).cpu()
    if train.request.kind == "vectors" and head.spec.hidden == 0:
        result = _train_linear(head, x, y, run.seed, log)
    else:
        if head.spec.hidden == 0 and held:
            _warm_start(head, x, y, fit, run.seed, log)
        result = _train_adamw(head, train, y, fit, held, label_map, run, work_dir, log, resume_args or {})
    y_dev = label_map.encode(dev_examples.labels)
    result.extra["dev"] = _scores(head, dev, list(range(len(y_dev))), y_dev, label_map)
    head.eval()
    return result
