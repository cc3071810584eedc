"""``train_tagger``: read CoNLL data, train in features or finetune mode with the shared
Trainer (warm-up, decay, clipping, checkpoints, resume), write the model directory."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bertkit.encoder.encoder import Encoder
from bertkit.errors import InputError, UsageError
from bertkit.nn.contextual import ContextualEmbedding
from bertkit.tagging.conll import TagData, read_conll
from bertkit.tagging.metrics import entity_report
from bertkit.tagging.model import TaggerModel, TaggerSpec, pad_tags
from bertkit.tagging.modeldir import save_tagger
from bertkit.tagging.options import TagTrainOptions
from bertkit.tagging.schemes import detect_scheme
from bertkit.training.outdir import training_lock
from bertkit.modeldir import writing_model_dir
from bertkit.training import TrainConfig, Trainer, grouped_batches, plot_training_curves, seed_everything
from bertkit.training.checkpoint import resume_args

__all__ = ["TagTrainReport", "train_tagger", "check_known_tags", "predict_tags", "load_tag_data"]

WORK_DIR = ".train"


@dataclass
class TagTrainReport:
    out: Path
    labels: list[str]
    train_size: int
    dev_size: int
    report: dict = field(default_factory=dict)  # dev entity report of the best epoch
    best_epoch: int | None = None
    seconds: float = 0.0
    cache_seconds: float = 0.0  # features mode: the one encoder pass over train + dev
    epoch_seconds: list[float] = field(default_factory=list)


def check_known_tags(data: TagData, labels: list[str]) -> None:
    known = set(labels)
    for s, tags in enumerate(data.tags):
        for w, tag in enumerate(tags):
            if tag not in known:
                raise InputError(f"{data.source}, line {data.tag_line(s, w)}: tag {tag!r} never occurs in the training data; known: {', '.join(labels)}")


def load_tag_data(opts: TagTrainOptions) -> tuple[TagData, TagData]:
    train = read_conll(opts.train)
    if opts.dev is not None:
        dev = read_conll(opts.dev)
    else:
        if len(train) < 2:
            raise InputError(f"{train.source}: {len(train)} sentence; give --dev FILE or more data")
        order = np.random.default_rng(opts.seed).permutation(len(train))
        cut = max(1, len(train) // 10)
        dev = _subset(train, sorted(order[:cut].tolist()))
        train = _subset(train, sorted(order[cut:].tolist()))
    if opts.max_train is not None and opts.max_train < len(train):
        keep = np.sort(np.random.default_rng(opts.seed).choice(len(train), opts.max_train, replace=False))
        train = _subset(train, keep.tolist())
    if len(train.labels()) < 2:
        raise InputError(f"{train.source}: only one tag ({train.labels()[0]}); a tagger needs at least two")
    check_known_tags(dev, train.labels())
    return train, dev


def _subset(data: TagData, idx: list[int]) -> TagData:
    return TagData([data.words[i] for i in idx], [data.tags[i] for i in idx], data.source, [data.lines[i] for i in idx] if data.lines else [])


def predict_tags(
    model: TaggerModel, words: list[list[str]], batch_size: int = 64, progress=False
) -> tuple[list[list[int]], list[np.ndarray]]:
    """Tag ids and per-word probabilities of the chosen tags, in input order. ``progress``: a
    bool (a bar of its own) or the command's JobProgress (its one bar)."""
    from bertkit.io.progress import progress_bar

    ids: list[list[int]] = [[] for _ in words]
    scores: list[np.ndarray] = [np.zeros(0, dtype=np.float32) for _ in words]
    order = np.argsort([-len(w) for w in words], kind="stable").tolist()
    with torch.no_grad(), progress_bar(progress, total=len(words), desc="tagging") as bar:
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            paths, probs = model.predict([words[i] for i in idx])
            for row, i in enumerate(idx):
                ids[i] = paths[row]
                scores[i] = probs[row, torch.arange(len(paths[row])), torch.tensor(paths[row], dtype=torch.long)].float().cpu().numpy()
            bar.update(len(idx))
    return ids, scores


def _build(opts: TagTrainOptions, train: TagData) -> TaggerModel:
    encoder = Encoder(opts.model, device=opts.device, max_length=opts.max_length)
    embedding = ContextualEmbedding(
        encoder=encoder, layers=opts.layers, layer_combine=opts.layer_combine, subword=opts.subword,
        trainable=opts.mode == "finetune", cache=not opts.no_cache, cache_dir=opts.cache_dir,
    )
    spec = TaggerSpec(labels=train.labels(), scheme=detect_scheme(train.tags), mode=opts.mode, head=opts.head,
                      layers=opts.layers, layer_combine=opts.layer_combine, subword=opts.subword,
                      lstm_hidden=opts.lstm_hidden, dropout=opts.dropout, max_length=encoder.max_length)
    return TaggerModel(spec, embedding).to(encoder.device)


def train_tagger(opts: TagTrainOptions, log: Callable[[str], None] = lambda m: None) -> TagTrainReport:
    """Train a tagger into ``opts.out`` (locked for the run; the directory is swapped in whole at the end)."""
    with training_lock(opts.out):
        return _train(opts, log)


def _train(opts: TagTrainOptions, log: Callable[[str], None]) -> TagTrainReport:
    start = time.perf_counter()
    seed_everything(opts.seed)
    train, dev = load_tag_data(opts)
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory")
    model = _build(opts, train)
    labels = model.spec.labels
    log(f"{len(train)} training and {len(dev)} dev sentences; {model.spec.scheme} tags: {', '.join(labels)}")
    report = TagTrainReport(out, labels, len(train), len(dev))
    if opts.mode == "features":
        t0 = time.perf_counter()
        with torch.no_grad():
            for data in (train, dev):
                for i in range(0, len(data), 256):
                    model.embedding(data.words[i : i + 256])
        report.cache_seconds = time.perf_counter() - t0
        cache = model.embedding.cache
        log(f"contextual vectors ready in {report.cache_seconds:.1f} s" + (f" ({cache.hits} cached, {cache.misses} computed)" if cache else ""))
    index = {t: i for i, t in enumerate(labels)}
    train_ids = [[index[t] for t in tags] for tags in train.tags]
    lengths = [len(w) for w in train.words]

    def batches(epoch: int) -> list[list[int]]:
        return grouped_batches(lengths, opts.batch_size, seed=opts.seed, epoch=epoch)

    def loss_fn(m: TaggerModel, idx: list[int]) -> torch.Tensor:
        return m.loss([train.words[i] for i in idx], pad_tags([train_ids[i] for i in idx]))

    reports: list[dict] = []  # one per evaluated epoch, so the best one needs no second dev pass

    def evaluate(m: TaggerModel) -> dict:
        ids, _ = predict_tags(m, dev.words)
        reports.append(entity_report(dev.tags, [[labels[i] for i in s] for s in ids]))
        return {k: reports[-1]["micro"][k] for k in ("f1", "precision", "recall")}

    config = TrainConfig(
        **opts.trainer_fields(), metric="f1", encoder_prefix="embedding.encoder.", keep_checkpoint=True,
        num_layers=model.embedding.runner.num_layers, resume_args=resume_args(opts),
    )
    result = Trainer(model, batches, loss_fn, evaluate, config, out_dir=out / WORK_DIR, progress=opts.progress, log=log).fit(resume=opts.resume)
    report.best_epoch = result.best_epoch
    report.epoch_seconds = [h["seconds"] for h in result.history]
    done = len(result.history) - len(reports)  # epochs evaluated before a resume
    if result.best_epoch is not None and 0 <= result.best_epoch - 1 - done < len(reports):
        report.report = reports[result.best_epoch - 1 - done]
    else:
        ids, _ = predict_tags(model, dev.words)
        report.report = entity_report(dev.tags, [[labels[i] for i in s] for s in ids])
    _save(out, model, opts, report, result.history, log)
    report.seconds = time.perf_counter() - start
    return report


def _save(out: Path, model: TaggerModel, opts: TagTrainOptions, report: TagTrainReport, history: list[dict], log) -> None:
    """Build the directory beside ``out`` and swap it in (the checkpoint in ``out/.train`` goes with the old one)."""
    training = {k: v for k, v in opts.model_dump().items() if k not in ("resume", "progress", "cache_dir", "no_cache", "device", "checkpoint_every")}
    metrics = {"dev_f1": report.report["micro"]["f1"], "best_epoch": report.best_epoch, "dev": report.report,
               "cache_seconds": round(report.cache_seconds, 2), "epoch_seconds": report.epoch_seconds}
    with writing_model_dir(out) as stage:
        curves = plot_training_curves(history, stage / "training_curves.png", title=f"{model.spec.head} ({model.spec.mode})")
        extra = {"history.json": json.dumps(history, indent=1).encode(), "training_curves.png": Path(curves).read_bytes()}
        save_tagger(stage, model, training, metrics, extra)
    log(f"saved {out} (dev entity F1 {report.report['micro']['f1']:.4f} at epoch {report.best_epoch})")
