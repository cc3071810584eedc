"""``train_classifier``: read data, train one pooling (or all of them plus a soft-voting
ensemble) in finetune or features mode, and write the model directory."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertkit.classification.config import ClassifierConfig, EncoderSpec
from bertkit.classification.data import Examples, LabelMap, check_known_labels, check_trainable, read_examples, stratified_split
from bertkit.classification.features import FeatureCache, extract_features, request_for
from bertkit.classification.finetune import finetune
from bertkit.classification.headtrain import train_head
from bertkit.classification.lora import add_lora
from bertkit.classification.model import HeadSpec, PoolingHead
from bertkit.classification.modeldir import copy_encoder_dir, default_encoder_sha256, is_default_encoder, save_single, write_config
from bertkit.classification.options import ClassifyData, HeadOptions, RunOptions, flat_args, parse_label_names
from bertkit.classification.plots import plot_comparison
from bertkit.embeddings.pooling import pooling_names, split_pooling_spec
from bertkit.encoder.delta import top_layer_names
from bertkit.encoder.encoder import Encoder
from bertkit.errors import ParameterError, UsageError
from bertkit.io.atomic import link_tree
from bertkit.modeldir import writing_model_dir
from bertkit.training import ddp, plot_training_curves, seed_everything
from bertkit.training.outdir import training_lock
from bertkit.training.checkpoint import NOT_SHAPING

__all__ = ["TrainReport", "train_classifier", "load_training_data"]

WORK_DIR = ".train"


@dataclass
class TrainReport:
    out: Path
    labels: list[str]
    train_size: int
    dev_size: int
    rows: list[dict] = field(default_factory=list)  # per model: pooling, accuracy, macro_f1, seconds, best_epoch
    seconds: float = 0.0


def load_training_data(data: ClassifyData, seed: int = 42) -> tuple[Examples, Examples, LabelMap]:
    """Train and dev examples (dev from ``data.dev`` or a stratified split seeded by ``seed``) and the label map."""
    columns = dict(text_column=data.text_column, label_column=data.label_column, pair_column=data.pair_column)
    train = read_examples(data.train, **columns)
    check_trainable(train)
    if data.dev is not None:
        dev = read_examples(data.dev, **columns)
    else:
        train, dev = stratified_split(train, data.dev_split, seed)
    if data.max_train is not None and data.max_train < len(train):
        keep = np.sort(np.random.default_rng(seed).choice(len(train), data.max_train, replace=False))
        train = train.subset(keep.tolist())
    if data.label_names:
        train, dev = _rename(train, data), _rename(dev, data)
    label_map = check_trainable(train)
    check_known_labels(dev, label_map)
    return train, dev, label_map


def _rename(examples: Examples, data: ClassifyData) -> Examples:
    mapping = parse_label_names(data.label_names)
    for i, label in enumerate(examples.labels):
        if label not in mapping:
            where = f", line {examples.lines[i]}" if examples.lines else ""
            raise ParameterError("label_names", f"{examples.source}{where}: label {label!r} has no name in label_names {data.label_names!r}")
    return Examples(examples.texts, [mapping[x] for x in examples.labels], examples.pairs, examples.lines, examples.source)


def _poolings(opts: HeadOptions, encoder: Encoder, log) -> list[str]:
    if opts.pooling != "all":
        parts = split_pooling_spec(opts.pooling)
        if "pooler" in parts and not encoder.has_pooler:
            raise UsageError(f"pooling 'pooler' is not available: {encoder.path.name} has no trained pooler")
        return [opts.pooling]
    names = pooling_names()
    if not encoder.has_pooler:
        log(f"skipping pooling 'pooler': {encoder.path.name} has no trained pooler")
        names = [n for n in names if n != "pooler"]
    return names


def _head(opts: HeadOptions, pooling: str, encoder: Encoder, label_map: LabelMap) -> PoolingHead:
    spec = HeadSpec(pooling=pooling, layers=opts.layers, layer_start=opts.layer_start, dropout=opts.dropout, hidden=opts.hidden,
                    standardize=opts.mode == "features", sequence=opts.head if opts.head in ("bilstm", "cnn") else None)
    return PoolingHead(spec, encoder.hidden_size, encoder.num_layers, len(label_map))


def _training_args(args: dict) -> dict:
    """The ``training`` record of a model directory: every option but run control."""
    run_control = ("resume", "progress", "cache_dir", "no_cache", "device", "checkpoint_every")
    return {k: v for k, v in args.items() if k not in run_control}


def _finished(directory: Path) -> bool:
    from bertkit.classification.modeldir import read_verified

    try:
        read_verified(directory)
        return True
    except Exception:  # noqa: BLE001
        return False


@dataclass
class _Setup:
    """What every pooling of one run shares: options, data, labels, the base encoder, where to write."""

    head_opts: HeadOptions
    run: RunOptions  # with the mode's defaults filled in
    model: str | None  # the base encoder (None: the packaged one)
    resume_args: dict  # what a resumed run must share with its checkpoint
    train: Examples
    dev: Examples
    label_map: LabelMap
    encoder: Encoder
    poolings: list[str]
    report: TrainReport
    common: dict  # ClassifierConfig fields shared by every member
    base_sha: str | None  # the packaged encoder's sha256 when the base is the default one
    rank: object
    log: Callable[[str], None]

    @property
    def ensemble(self) -> bool:
        return len(self.poolings) > 1

    def target(self, pooling: str) -> Path:
        """Where a pooling's model goes: ``out`` itself, or for an ensemble a finished member kept
        under the hidden work directory until the ensemble is swapped in whole."""
        return self.report.out / WORK_DIR / "members" / pooling if self.ensemble else self.report.out

    def done_before(self, pooling: str) -> bool:
        """A resumed ensemble keeps members that were finished before the interruption."""
        if self.run.resume and self.ensemble and _finished(self.target(pooling)):
            self.report.rows.append(_row_from_dir(self.target(pooling), pooling))
            return True
        return False


def train_classifier(
    data: ClassifyData,
    out: str | Path,
    head: HeadOptions | None = None,
    run: RunOptions | None = None,
    *,
    model: str | Path | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> TrainReport:
    """Train ``head.pooling`` (or every pooling and a soft-voting ensemble) on ``data`` over the base
    encoder ``model`` (None: the packaged all-MiniLM-L6-v2) and write the model directory ``out``.

    ``out`` is locked for the run; checkpoints live in ``out/.train`` until the new directory,
    built beside ``out``, is swapped in whole (a kill leaves the old model or the new one)."""
    start = time.perf_counter()
    head = head if head is not None else HeadOptions()
    run = (run if run is not None else RunOptions()).for_head(head)
    model = None if model is None else str(model)
    rank = ddp.setup()  # under torchrun: join the group (and pin this rank's GPU) before loading
    if rank.active and head.mode != "finetune":
        raise UsageError("torchrun / --nproc trains --mode finetune; features mode trains its heads in one process")
    if not rank.main:
        log = lambda message: None  # noqa: E731
    args = flat_args(data, head, run, out=str(out), model=model)
    with training_lock(out):  # a second run into the same directory is refused
        setup = _prepare(data, head, run, args, rank, log)
        if head.mode == "features":
            _train_features_mode(setup, start)
        else:
            _train_finetune_mode(setup)
    setup.report.seconds = time.perf_counter() - start
    return setup.report


def _prepare(data: ClassifyData, head: HeadOptions, run: RunOptions, args: dict, rank, log) -> _Setup:
    """Read the data, load the base encoder and validate every head before anything is written."""
    seed_everything(run.seed)
    train, dev, label_map = load_training_data(data, run.seed)
    encoder = Encoder(args["model"], device=run.device, max_length=head.max_length)
    poolings = _poolings(head, encoder, log)
    for p in poolings:
        _head(head, p, encoder, label_map)
    _check_encoder_storage(head, encoder)
    out = Path(args["out"])
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a directory")
    log(f"{len(train)} training and {len(dev)} dev examples, labels: {', '.join(label_map.labels)}")
    base_sha = default_encoder_sha256() if is_default_encoder(encoder.path) else None
    report = TrainReport(out, list(label_map.labels), len(train), len(dev))
    common = dict(labels=list(label_map.labels), max_length=encoder.max_length, pairs=train.pairs is not None, training=_training_args(args))
    shaping = {k: v for k, v in args.items() if k not in NOT_SHAPING}
    return _Setup(head, run, args["model"], shaping, train, dev, label_map, encoder, poolings, report, common, base_sha, rank, log)


def _check_encoder_storage(opts: HeadOptions, encoder: Encoder) -> None:
    if opts.train_layers is not None and opts.train_layers > encoder.num_layers:
        raise ParameterError("train_layers", f"train_layers {opts.train_layers} exceeds the encoder's {encoder.num_layers} layers")
    if opts.delta is not None and not is_default_encoder(encoder.path):
        raise ParameterError("delta", "delta needs the packaged all-MiniLM-L6-v2 as base (the deltas are against it); with another base the whole encoder is stored")


def _freeze_lower_layers(encoder: Encoder, train_layers: int | None) -> None:
    """Only the top ``train_layers`` layers of ``encoder`` learn (embeddings and pooler stay as they are)."""
    if train_layers is None:
        return
    names = [n for n, _ in encoder.model.named_parameters()]
    keep = set(top_layer_names(names, encoder.num_layers, train_layers))
    for name, param in encoder.model.named_parameters():
        param.requires_grad_(name in keep)


def _finetune_spec(opts: HeadOptions, base_sha: str | None) -> EncoderSpec:
    if opts.lora and base_sha:
        return EncoderSpec("default", base_sha, adapter="lora")
    if opts.delta:
        return EncoderSpec("default", base_sha, adapter="delta")
    return EncoderSpec("included", adapter="lora" if opts.lora else None)


def _train_features_mode(s: _Setup, start: float) -> None:
    """One embedding pass (cached), then every head on the cached features."""
    run, encoder = s.run, s.encoder
    heads = [_head(s.head_opts, p, encoder, s.label_map).to(encoder.device) for p in s.poolings]
    requests = list(dict.fromkeys(request_for(h) for h in heads))
    cache = None if run.no_cache else FeatureCache(run.cache_dir)
    feats_train = dict(zip(requests, extract_features(encoder, s.train, requests, cache, progress=run.progress, log=s.log)))
    feats_dev = dict(zip(requests, extract_features(encoder, s.dev, requests, cache, progress=run.progress, log=s.log)))
    embed_seconds = time.perf_counter() - start
    default_spec = EncoderSpec("default", s.base_sha) if s.base_sha else EncoderSpec("included")
    for pooling, head in zip(s.poolings, heads):
        if s.done_before(pooling):
            continue
        t0 = time.perf_counter()
        s.log(f"training the {pooling} head on cached features")
        req = request_for(head)
        target = s.target(pooling)
        result = train_head(head, feats_train[req], feats_dev[req], s.train, s.dev, s.label_map, run, target / WORK_DIR, s.log,
                            resume_args=s.resume_args)
        dev_scores = result.extra["dev"]
        metrics = {"dev_accuracy": dev_scores["accuracy"], "dev_macro_f1": dev_scores["macro_f1"], "held_out_accuracy": result.best_metric,
                   "best_epoch": result.best_epoch, "solver": result.extra["solver"], "seconds": time.perf_counter() - t0}
        if result.extra["solver"] == "lbfgs":
            metrics.update(l2=result.extra["l2"], C=result.extra["C"], cv_folds=result.extra["cv_folds"])
        spec = EncoderSpec("parent") if s.ensemble else default_spec
        config = ClassifierConfig(mode="features", encoder=spec, head=head.spec, metrics=metrics, **s.common)
        _finish(target, config, head, encoder, None, result, s.log)
        s.report.rows.append({"pooling": pooling, "accuracy": dev_scores["accuracy"], "macro_f1": dev_scores["macro_f1"],
                              "best_epoch": result.best_epoch, "seconds": round(time.perf_counter() - t0, 2)})
    s.report.rows[0]["seconds"] = round(s.report.rows[0]["seconds"] + embed_seconds, 2)  # the shared embedding pass
    if s.ensemble:
        _write_ensemble(s, default_spec, "features", encoder.path if default_spec.source == "included" else None)


def _train_finetune_mode(s: _Setup) -> None:
    """Fine-tune the encoder (or LoRA adapters) with each pooling head in turn."""
    opts, run = s.head_opts, s.run
    for i, pooling in enumerate(s.poolings):
        if s.done_before(pooling):
            continue
        t0 = time.perf_counter()
        enc = s.encoder if i == 0 else Encoder(s.model, device=run.device, max_length=opts.max_length)
        seed_everything(run.seed)
        head = _head(opts, pooling, enc, s.label_map)
        peft_model = add_lora(enc, opts.lora) if opts.lora else None
        _freeze_lower_layers(enc, opts.train_layers)
        name = "all-MiniLM-L6-v2" if s.base_sha else enc.path.name
        part = f" (LoRA rank {opts.lora})" if opts.lora else "" if opts.train_layers is None else f" (top {opts.train_layers} layers)"
        s.log(f"fine-tuning {name} with {pooling} pooling{part}")
        target = s.target(pooling)
        model, result = finetune(enc, head, s.train, s.dev, s.label_map, run, target / WORK_DIR, s.log, peft_model,
                                 resume_args=s.resume_args)
        spec = _finetune_spec(opts, s.base_sha)
        metrics = {"dev_accuracy": result.best_metric, "best_epoch": result.best_epoch, "seconds": time.perf_counter() - t0,
                   "examples_per_second": result.examples / max(result.seconds, 1e-9)}
        config = ClassifierConfig(mode="finetune", encoder=spec, head=head.spec, metrics=metrics, **s.common)
        if s.rank.main:  # rank 0 writes; the others wait so a resumed ensemble sees the member
            _finish(target, config, head, enc, peft_model, result, s.log, delta=opts.delta)
        ddp.barrier(s.rank)
        s.report.rows.append({"pooling": pooling, **_dev_row(result), "seconds": round(time.perf_counter() - t0, 2)})
    if s.ensemble and s.rank.main:
        _write_ensemble(s, EncoderSpec("members"), "finetune", None)


def _dev_row(result) -> dict:
    best = next((h for h in result.history if h["epoch"] == result.best_epoch), result.history[-1])
    return {"accuracy": best.get("accuracy", float("nan")), "macro_f1": best.get("macro_f1", float("nan")), "best_epoch": result.best_epoch}


def _row_from_dir(directory: Path, pooling: str) -> dict:
    import json

    from bertkit.classification.config import CONFIG_FILE

    config = json.loads((directory / CONFIG_FILE).read_text())
    history = json.loads((directory / "history.json").read_text())
    best = next((h for h in history if h["epoch"] == config["metrics"].get("best_epoch")), history[-1] if history else {})
    if "dev_macro_f1" in config["metrics"]:  # features mode: history is the held-out curve
        best = {"accuracy": config["metrics"]["dev_accuracy"], "macro_f1": config["metrics"]["dev_macro_f1"]}
    return {"pooling": pooling, "accuracy": best["accuracy"], "macro_f1": best["macro_f1"], "best_epoch": config["metrics"].get("best_epoch"), "seconds": round(config["metrics"].get("seconds", 0.0), 2)}


def _finish(target: Path, config: ClassifierConfig, head, encoder, peft_model, result, log, *, delta: str | None = None) -> None:
    """Build the model beside ``target`` and swap it in; the checkpoint in ``target/.train``
    stays until then (a resumed run finds it) and goes with the old directory."""
    import json

    with writing_model_dir(target) as stage:
        (stage / "history.json").write_text(json.dumps(result.history, indent=1), encoding="utf-8")
        plot_training_curves(result.history, stage / "training_curves.png", title=f"{config.head.pooling} ({config.mode})")
        save_single(stage, config, head, encoder, peft_model=peft_model, delta=delta)
    if "dev" in result.extra:  # features mode: chosen on held-out training rows, scored on dev
        log(f"saved {target} (dev accuracy {result.extra['dev']['accuracy']:.4f}; chosen on held-out training rows)")
    else:
        log(f"saved {target} (best dev accuracy {result.best_metric:.4f} at epoch {result.best_epoch})")


def _write_ensemble(s: _Setup, spec: EncoderSpec, mode: str, encoder_dir: Path | None) -> None:
    """The ensemble of the finished members (hard-linked from the work directory), built beside ``out`` and swapped in."""
    from bertkit.classification.classifier import load_classifier
    from bertkit.classification.metrics import classification_report

    out, report, dev = s.report.out, s.report, s.dev
    members = [f"members/{p}" for p in s.poolings]
    config = ClassifierConfig(kind="ensemble", mode=mode, encoder=spec, members=members, **s.common)
    with writing_model_dir(out) as stage:
        for pooling in s.poolings:
            link_tree(s.target(pooling), stage / "members" / pooling)
        if encoder_dir is not None:
            copy_encoder_dir(encoder_dir, stage / "encoder")
        write_config(stage, config)
        t0 = time.perf_counter()
        clf = load_classifier(stage, device=s.run.device)
        probs = clf.predict_proba(dev.texts, dev.pairs)
        result = classification_report(s.label_map.encode(dev.labels), probs.argmax(axis=1), s.label_map.labels)
        report.rows.append({"pooling": "ensemble", "accuracy": result["accuracy"], "macro_f1": result["macro_f1"], "best_epoch": None,
                            "seconds": round(time.perf_counter() - t0, 2)})
        config.metrics = {"dev_accuracy": result["accuracy"], "dev_macro_f1": result["macro_f1"], "comparison": report.rows}
        plot_comparison(report.rows, stage / "comparison.png")
        write_config(stage, config)
    s.log(f"saved ensemble of {len(members)} poolings to {out} (dev accuracy {result['accuracy']:.4f})")
