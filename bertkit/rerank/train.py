"""``train_reranker``: fine-tune a cross-encoder on (query, passage, label) pairs with the
shared Trainer (checkpoints, resume, curves, torchrun) and write a reranker directory.

Two objectives: ``bce``, binary cross-entropy on each pair's relevance logit
(sentence-transformers' ``CrossEncoder`` objective for one label), and ``listwise``, a
softmax cross-entropy over each query's rows (its positive against its negatives, the
"localized contrastive estimation" of Gao et al. 2021): batches then hold whole queries.
On the packaged all-MiniLM-L6-v2, the top ``train_layers``
layers and the head learn; the directory stores those layers as deltas (``delta``) against
the packaged encoder, so it stays a few MB.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from bertkit.classification.config import EncoderSpec
from bertkit.classification.model import HeadSpec
from bertkit.classification.modeldir import default_encoder_sha256, is_default_encoder
from bertkit.encoder.batching import pad_batch
from bertkit.encoder.delta import top_layer_names
from bertkit.encoder.encoder import Encoder
from bertkit.errors import ParameterError, UsageError
from bertkit.rerank.config import RerankConfig
from bertkit.rerank.data import Pairs
from bertkit.rerank.metrics import ranking_metrics
from bertkit.rerank.model import CrossEncoderModel, bce_loss, build_head, listwise_loss, pair_windows
from bertkit.rerank.modeldir import save_reranker
from bertkit.training import Trainer, TrainConfig, TrainResult, ddp, epoch_rng, grouped_batches, plot_training_curves, seed_everything
from bertkit.training.args import TrainArgs
from bertkit.training.checkpoint import NOT_SHAPING

__all__ = ["RerankTrainArgs", "RerankReport", "train_reranker", "query_batches", "dev_metrics", "WORK_DIR", "LOSSES"]

WORK_DIR = ".train"
LOSSES = ("bce", "listwise")


class RerankTrainArgs(TrainArgs):
    """The shared :class:`~bertkit.training.args.TrainArgs` with the reranker's defaults (1 epoch,
    lr 5e-5, 16 pairs a step, no early stopping) and its own fields."""

    epochs: int | None = Field(1, ge=1)
    lr: float | None = Field(5e-5, gt=0)
    batch_size: int | None = Field(16, ge=1)
    model: str | None = None  # base encoder directory (None: the packaged all-MiniLM-L6-v2)
    pooling: Literal["mean", "cls", "pooler"] = "mean"
    loss: Literal["bce", "listwise"] = "bce"
    max_length: int = Field(256, ge=8)
    train_layers: int | None = Field(2, ge=0)  # the top N layers (+ head) learn; None: the whole encoder
    delta: Literal["fp16", "int8", "int4"] | None = "int8"  # trained layers as deltas against the packaged encoder (None: whole encoder)


@dataclass
class RerankReport:
    out: Path
    train_pairs: int
    dev_pairs: int
    best_epoch: int | None
    metrics: dict
    seconds: float
    pairs_per_second: float


def _check_labels(pairs: Pairs) -> None:
    bad = next((i for i, y in enumerate(pairs.labels) if not 0.0 <= y <= 1.0), None)
    if bad is not None:
        raise ParameterError("train", f"{pairs.source}: training labels must lie in [0, 1] (1 relevant, 0 not); row {bad + 1} has {pairs.labels[bad]}")


def _freeze(encoder: Encoder, train_layers: int | None) -> None:
    if train_layers is None:
        return
    keep = set(top_layer_names([n for n, _ in encoder.model.named_parameters()], encoder.num_layers, train_layers))
    for name, param in encoder.model.named_parameters():
        param.requires_grad_(name in keep)


def dev_metrics(model: CrossEncoderModel, encoder: Encoder, dev: Pairs, batch_size: int) -> dict:
    """Dev loss, MRR@10 and nDCG@10 (each query's rows ranked by the model)."""
    windows = pair_windows(encoder, dev.queries, dev.passages)
    logits = np.zeros(len(dev), dtype=np.float32)
    for idx, batch in encoder.batches(windows, batch_size):
        logits[[windows.sample[w] for w in idx]] = model(batch).float().cpu().numpy()
    labels = np.asarray(dev.labels, dtype=np.float32)
    loss = float(bce_loss(torch.from_numpy(logits), torch.from_numpy(labels.clip(0, 1))))
    groups = [(logits[rows], labels[rows]) for rows in dev.groups().values()]
    scores = ranking_metrics(groups, 10)
    return {"loss": loss, "mrr@10": scores["mrr@10"], "ndcg@10": scores["ndcg@10"]}


def _storage(args: RerankTrainArgs, encoder: Encoder) -> EncoderSpec:
    default = is_default_encoder(encoder.path)
    if args.delta is not None and default:
        return EncoderSpec("default", default_encoder_sha256(), adapter="delta")
    return EncoderSpec("included")


def train_reranker(train: Pairs, dev: Pairs | None, out: str | Path, args: RerankTrainArgs | None = None, *,
                   log: Callable[[str], None] = lambda m: None) -> RerankReport:
    """Train a cross-encoder on ``train`` (best epoch by dev nDCG@10 when ``dev`` is given) and write ``out``."""
    args = args or RerankTrainArgs()
    start = time.perf_counter()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory")
    if not len(train):
        raise ParameterError("train", "no training pairs")
    _check_labels(train)
    rank = ddp.setup()
    if not rank.main:
        log = lambda message: None  # noqa: E731
    seed_everything(args.seed)
    encoder = Encoder(args.model, device=args.device, max_length=args.max_length)
    if args.train_layers is not None and args.train_layers > encoder.num_layers:
        raise ParameterError("train_layers", f"train_layers {args.train_layers} exceeds the encoder's {encoder.num_layers} layers")
    spec = HeadSpec(pooling=args.pooling)
    head = build_head(spec, encoder).to(encoder.device)
    _freeze(encoder, args.train_layers)
    model = CrossEncoderModel(encoder, head)
    result = _fit(model, encoder, train, dev, args, out / WORK_DIR, log)
    metrics = {k: v for k, v in (next((h for h in result.history if h["epoch"] == result.best_epoch), result.history[-1])).items()
               if k in ("loss", "mrr@10", "ndcg@10")}
    rate = result.examples / max(result.seconds, 1e-9)
    config = RerankConfig(max_length=encoder.max_length, head=spec, encoder=_storage(args, encoder), activation="sigmoid",
                          training={**args.model_dump(), "train_pairs": len(train), "dev_pairs": len(dev) if dev else 0},
                          metrics={**{f"dev_{k}": v for k, v in metrics.items()}, "best_epoch": result.best_epoch, "pairs_per_second": rate})
    if rank.main:
        _write(out, config, model, encoder, result, args)
        log(f"saved {out}" + (f" (dev nDCG@10 {metrics['ndcg@10']:.2f}, MRR@10 {metrics['mrr@10']:.2f} at epoch {result.best_epoch})" if dev else ""))
    ddp.barrier(rank)
    return RerankReport(out, len(train), len(dev) if dev else 0, result.best_epoch, metrics, time.perf_counter() - start, rate)


def _fit(model: CrossEncoderModel, encoder: Encoder, train: Pairs, dev: Pairs | None, args: RerankTrainArgs, work: Path, log) -> TrainResult:
    windows = pair_windows(encoder, train.queries, train.passages)
    if windows.truncated:
        log(f"{windows.truncated} of {len(train)} training pairs were cut to {encoder.max_length} tokens")
    labels = torch.tensor(train.labels, dtype=torch.float32, device=encoder.device)
    pad_id = encoder.tokenizer.pad_token_id or 0

    groups = [rows for rows in train.groups().values() if any(train.labels[i] > 0 for i in rows)]
    if args.loss == "listwise" and not groups:
        raise ParameterError("loss", f"{train.source}: listwise training needs queries with a relevant row (label > 0)")

    def batches(epoch: int) -> list[list[int]]:
        if args.loss == "listwise":
            return query_batches(groups, windows.lengths, args.batch_size, seed=args.seed, epoch=epoch)
        return grouped_batches(windows.lengths, args.batch_size, seed=args.seed, epoch=epoch)

    def loss_fn(m: CrossEncoderModel, idx: list[int]) -> torch.Tensor:
        batch = pad_batch([windows.features[i] for i in idx], pad_id, encoder.input_keys)
        logits = m({k: v.to(encoder.device) for k, v in batch.items()})  # (B,)
        if args.loss == "listwise":
            return listwise_loss(logits, labels[idx], [train.queries[i] for i in idx])
        return bce_loss(logits, labels[idx])

    evaluate = (lambda m: dev_metrics(m, encoder, dev, max(32, args.batch_size))) if dev is not None and len(dev) else None
    shaping = {k: v for k, v in args.model_dump().items() if k not in NOT_SHAPING}
    config = TrainConfig(**args.trainer_fields(), metric="ndcg@10", num_layers=encoder.num_layers, resume_args=shaping)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    log(f"training {len(trainable)} tensors ({sum(p.numel() for p in model.parameters() if p.requires_grad):,} weights) on {len(train)} pairs")
    trainer = Trainer(model, batches, loss_fn, evaluate, config, out_dir=work, progress=args.progress, log=log)
    return trainer.fit(resume=args.resume)


def query_batches(groups: list[list[int]], lengths: list[int], batch_size: int, *, seed: int, epoch: int, pool: int = 50) -> list[list[int]]:
    """Batches of whole queries (about ``batch_size`` rows each), seeded by ``(seed, epoch)``:
    queries shuffled, pools of ``pool`` batches sorted by length, batch order shuffled."""
    rng = epoch_rng(seed, epoch)
    order = [groups[i] for i in rng.permutation(len(groups))]
    per_batch = max(1, batch_size // max(1, round(np.mean([len(g) for g in groups]))))
    out: list[list[int]] = []
    for p in range(0, len(order), pool * per_batch):
        chunk = sorted(order[p : p + pool * per_batch], key=lambda g: max(lengths[i] for i in g))
        out += [[i for g in chunk[b : b + per_batch] for i in g] for b in range(0, len(chunk), per_batch)]
    return [out[i] for i in rng.permutation(len(out))]


def _write(out: Path, config: RerankConfig, model: CrossEncoderModel, encoder: Encoder, result: TrainResult, args: RerankTrainArgs) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "history.json").write_text(json.dumps(result.history, indent=1), encoding="utf-8")
    plot_training_curves(result.history, out / "training_curves.png", title=f"reranker ({args.pooling})")
    save_reranker(out, config, model.head.head, encoder, delta=args.delta)
    shutil.rmtree(out / WORK_DIR, ignore_errors=True)
