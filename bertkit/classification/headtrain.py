"""Features mode: train only the pooling head on cached encoder outputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bertkit.classification.data import Examples, LabelMap
from bertkit.classification.features import Features, head_inputs
from bertkit.classification.metrics import classification_report
from bertkit.classification.model import PoolingHead, cross_entropy
from bertkit.classification.options import TrainOptions
from bertkit.training import TrainConfig, Trainer, TrainResult, grouped_batches

__all__ = ["head_logits", "train_head"]


def head_logits(head: PoolingHead, features: Features, idx: list[int]) -> torch.Tensor:
    """Logits of ``head`` for rows ``idx`` of cached features. # -> (B, C)"""
    data, mask = features.batch(idx)
    device = next(head.parameters()).device
    inputs = head_inputs(head, features.request, data.to(device), mask.to(device) if mask is not None else None)
    if features.request.kind == "vectors":
        return head.classify(inputs)
    return head.forward_pooled(inputs)[0]


def _lengths(features: Features, n: int) -> list[int]:
    return [1] * n if features.offsets is None else np.diff(features.offsets).tolist()


def train_head(
    head: PoolingHead,
    train: Features,
    dev: Features,
    train_examples: Examples,
    dev_examples: Examples,
    label_map: LabelMap,
    opts: TrainOptions,
    work_dir: Path,
    log: Callable[[str], None],
) -> TrainResult:
    y_train = torch.from_numpy(label_map.encode(train_examples.labels))
    y_dev = label_map.encode(dev_examples.labels)
    train_lengths = _lengths(train, len(train_examples))
    dev_batches = [list(range(i, min(i + 512, len(dev_examples)))) for i in range(0, len(dev_examples), 512)]

    def batches(epoch: int) -> list[list[int]]:
        return grouped_batches(train_lengths, opts.batch_size, seed=opts.seed, epoch=epoch)

    def loss_fn(h: PoolingHead, idx: list[int]) -> torch.Tensor:
        return cross_entropy(head_logits(h, train, idx), y_train[idx].to(next(h.parameters()).device))

    def evaluate(h: PoolingHead) -> dict:
        logits = torch.cat([head_logits(h, dev, b).float().cpu() for b in dev_batches])
        report = classification_report(y_dev, logits.argmax(dim=1).numpy(), label_map.labels)
        loss = float(cross_entropy(logits, torch.from_numpy(y_dev)))
        return {"loss": loss, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}

    config = TrainConfig(
        epochs=opts.epochs, lr=opts.lr, weight_decay=opts.weight_decay, warmup_ratio=opts.warmup_ratio,
        max_grad_norm=opts.max_grad_norm, dtype="fp32", patience=opts.patience, metric="accuracy",
        seed=opts.seed, checkpoint_every=0,
    )
    return Trainer(head, batches, loss_fn, evaluate, config, out_dir=work_dir, progress=opts.progress, log=log).fit(resume=opts.resume)
