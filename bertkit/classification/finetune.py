"""Fine-tuning mode: encoder + pooling head trained end to end (optionally LoRA)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bertkit.classification.data import Examples, LabelMap
from bertkit.classification.metrics import classification_report
from bertkit.classification.model import PoolingHead, TextClassifier, cross_entropy, tokenize
from bertkit.classification.options import RunOptions
from bertkit.encoder.batching import pad_batch
from bertkit.encoder.encoder import Encoder
from bertkit.training import Trainer, TrainResult, grouped_batches

__all__ = ["finetune", "evaluate_logits"]


def evaluate_logits(model: TextClassifier, encoder: Encoder, windows, labels: np.ndarray, label_map: LabelMap, batch_size: int) -> dict:
    """Dev loss, accuracy and macro-F1 of ``model`` over tokenized windows."""
    logits = np.zeros((windows.num_texts, len(label_map)), dtype=np.float32)
    for idx, batch in encoder.batches(windows, batch_size):
        out, _ = model(batch)
        logits[[windows.sample[w] for w in idx]] = out.float().cpu().numpy()
    loss = float(cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)))
    report = classification_report(labels, logits.argmax(axis=1), label_map.labels)
    return {"loss": loss, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def finetune(
    encoder: Encoder,
    head: PoolingHead,
    train: Examples,
    dev: Examples,
    label_map: LabelMap,
    run: RunOptions,
    work_dir: Path,
    log: Callable[[str], None],
    peft_model=None,
    *,
    resume_args: dict | None = None,
) -> tuple[TextClassifier, TrainResult]:
    """Train encoder and head end to end under ``run`` (a ``for_head`` copy); a resume must
    match ``resume_args`` (the task's model-shaping options) besides ``run``'s settings."""
    model = TextClassifier(encoder, head.to(encoder.device))
    train_windows = tokenize(encoder, train.texts, train.pairs)
    dev_windows = tokenize(encoder, dev.texts, dev.pairs)
    if train_windows.truncated:
        log(f"{train_windows.truncated} training texts were cut to {encoder.max_length} tokens")
    y_train = torch.from_numpy(label_map.encode(train.labels)).to(encoder.device)
    y_dev = label_map.encode(dev.labels)
    pad_id = encoder.tokenizer.pad_token_id or 0
    trainable_encoder = [p for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad]

    def batches(epoch: int) -> list[list[int]]:
        return grouped_batches(train_windows.lengths, run.batch_size, seed=run.seed, epoch=epoch)

    def loss_fn(m: TextClassifier, idx: list[int]) -> torch.Tensor:
        batch = pad_batch([train_windows.features[i] for i in idx], pad_id, encoder.input_keys)
        logits, _ = m({k: v.to(encoder.device) for k, v in batch.items()})
        return cross_entropy(logits, y_train[idx])

    def evaluate(m: TextClassifier) -> dict:
        return evaluate_logits(m, encoder, dev_windows, y_dev, label_map, max(64, run.batch_size))

    def freeze(m: TextClassifier, frozen: bool) -> None:
        for p in trainable_encoder:
            p.requires_grad_(not frozen)

    config = run.train_config(metric="accuracy", num_layers=encoder.num_layers, resume_args=resume_args or {})
    trainer = Trainer(model, batches, loss_fn, evaluate, config, out_dir=work_dir, freeze=freeze, progress=run.progress, log=log)
    return model, trainer.fit(resume=run.resume)
