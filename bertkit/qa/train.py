"""Fine-tune a span model on SQuAD 1.1/2.0 with the shared Trainer and save a model directory.

Training examples use each question's first aligned answer; an unanswerable question
(SQuAD 2.0) and every window that does not hold the whole answer point at ``[CLS]``.
``train_layers`` N trains only the top N encoder layers and the head: the lower layers
and the embeddings are frozen, so backward stops at layer L - N (faster on CPU) and the
saved model holds only what changed (small enough to ship).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from bertkit.encoder.batching import pad_batch
from bertkit.encoder.encoder import Encoder
from bertkit.errors import InputError, ParameterError
from bertkit.qa.evaluate import EvalResult, evaluate_squad, metrics_at
from bertkit.qa.features import QAFeatures, build_features, check_lengths
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig, load_weights_into, read_config, save_qa_model
from bertkit.qa.squad import SquadData, read_squad
from bertkit.qa.threshold import choose_null_threshold, with_threshold
from bertkit.training.outdir import training_lock
from bertkit.modeldir import writing_model_dir
from bertkit.training import TrainConfig, Trainer, TrainResult, ddp, grouped_batches, plot_training_curves, seed_everything
from bertkit.training.args import TrainArgs
from bertkit.training.checkpoint import NOT_SHAPING

__all__ = ["QATrainArgs", "QATrainOutcome", "train_qa", "WORK_DIR"]

WORK_DIR = ".train"  # checkpoints and best weights of a run, inside the output directory


class QATrainArgs(TrainArgs):
    """The shared :class:`~bertkit.training.args.TrainArgs` with QA's defaults (2 epochs,
    lr 5e-5, 32 windows a step, no early stopping) and QA's own fields."""

    epochs: int | None = Field(2, ge=1)
    lr: float | None = Field(5e-5, gt=0)
    batch_size: int | None = Field(32, ge=1)
    train_layers: int | None = Field(None, ge=0)  # top encoder layers trained (None: all, embeddings included)
    weights_dtype: Literal["fp32", "fp16", "bf16"] = "fp32"  # dtype of the saved tensors (fp16 halves the size)
    eval_batch_size: int = Field(64, ge=1)
    max_train: int | None = Field(None, ge=1)  # use only the first N training questions (quick runs)

    def __init__(self, **data) -> None:
        if "limit" in data:  # the former name of max_train
            data["max_train"] = data.pop("limit")
        super().__init__(**data)


@dataclass
class QATrainOutcome:
    model: QAModel
    config: QAConfig
    result: TrainResult
    train_data: SquadData
    features: QAFeatures
    dev: EvalResult | None = None
    files: list[Path] = field(default_factory=list)


class _Batches(Sequence):
    """One epoch's padded batches, built on demand from window indices."""

    def __init__(self, features: QAFeatures, order: list[list[int]], pad_id: int, keys: list[str]) -> None:
        self.features, self.order, self.pad_id, self.keys = features, order, pad_id, keys

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        idx = self.order[i]
        batch = pad_batch([self.features.windows.features[w] for w in idx], self.pad_id, self.keys)
        batch["start_positions"] = torch.tensor([self.features.start_positions[w] for w in idx])
        batch["end_positions"] = torch.tensor([self.features.end_positions[w] for w in idx])
        return batch


def _resume_args(args: QATrainArgs, config: QAConfig, base, init, train_path) -> dict:
    """The arguments a resumed run must share with its checkpoint (model shape, batches, data)."""
    shaping = {k: v for k, v in args.model_dump().items() if k not in ("eval_batch_size", "weights_dtype", *NOT_SHAPING)}
    shaping.update({k: v for k, v in asdict(config).items() if k not in ("training", "null_threshold", "weights_dtype")})
    return {**shaping, "base": base, "init": init, "train": train_path}


def train_qa(
    train_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    dev_path: str | os.PathLike | None = None,
    threshold_path: str | os.PathLike | None = None,
    base: str | os.PathLike | None = None,
    config: QAConfig | None = None,
    args: QATrainArgs | None = None,
    init: str | os.PathLike | None = None,
    resume: bool | None = None,
    device: str | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> QATrainOutcome:
    """Train on ``train_path`` (SQuAD JSON), evaluate on ``dev_path`` each epoch, save to ``out_dir``.

    ``threshold_path`` (SQuAD 2.0 questions held out from training) chooses the saved null
    threshold (:func:`bertkit.qa.threshold.choose_null_threshold`); without it the
    threshold stays ``config.null_threshold``.

    ``init`` starts from a trained QA model directory (its head and trained layers) on the
    same base encoder, e.g. to continue training for another epoch. ``config`` and
    ``args`` are read, never changed: the outcome holds the config that was saved.
    ``resume``, ``device`` and ``progress`` override the fields of ``args`` when given.

    ``out_dir`` is locked for the run (a second run into it is refused); checkpoints go to
    ``out_dir/.train`` and the model directory is swapped in whole at the end.
    """
    config = config or QAConfig()
    args = args or QATrainArgs()
    given = {"resume": resume, "device": device, "progress": progress}
    args = args.updated(**{k: v for k, v in given.items() if v is not None})
    check_lengths(config.max_length, config.doc_stride, config.max_question_length)
    with training_lock(out_dir):
        return _train_locked(train_path, out_dir, dev_path, threshold_path, base, config, args, init, log)


def _train_locked(train_path, out_dir, dev_path, threshold_path, base, config: QAConfig, args: QATrainArgs, init, log) -> QATrainOutcome:
    progress = args.progress
    rank = ddp.setup()  # under torchrun: join the group (and pin this rank's GPU) before loading
    if not rank.main:
        log, progress = (lambda message: None), False
    train = read_squad(train_path)
    dev = read_squad(dev_path) if dev_path is not None else None
    held_out = read_squad(threshold_path) if threshold_path is not None else None
    examples = [e for e in train.examples if e.trainable][: args.max_train]
    if not examples:
        raise InputError(f"{train_path}: no usable training questions")
    seed_everything(args.seed)
    model, init_config = _build_model(base, args.device, config, args, init)
    config = replace(  # a copy: what this run trains
        config, base_model=_base_name(base), version_2=train.version_2, train_layers=args.train_layers,
        weights_dtype=args.weights_dtype,
    )
    log(f"train: {train.summary()}" + (f"\ndev: {dev.summary()}" if dev is not None else ""))
    features = _train_features(model.wrapped, examples, config, log)
    run = _Run(train_path, dev_path, base, init, init_config, len(examples), threshold_path, held_out)
    trainer = _trainer(model, features, config, args, dev, run, out_dir, progress, log)
    result = trainer.fit(resume=args.resume)
    if not rank.main:  # rank 0 evaluates and writes the model directory
        return QATrainOutcome(model, config, result, train, features)
    return _save(model, config, args, result, train, features, dev, run, out_dir)


@dataclass(frozen=True)
class _Run:
    """Where a training run's data and starting point came from (for resume and the saved config)."""

    train_path: str | os.PathLike
    dev_path: str | os.PathLike | None
    base: str | os.PathLike | None
    init: str | os.PathLike | None
    init_config: QAConfig | None
    questions: int
    threshold_path: str | os.PathLike | None = None
    threshold_data: SquadData | None = None


def _base_name(base: str | os.PathLike | None) -> str:
    return "default" if base is None else str(Path(base).expanduser().resolve())


def _build_model(base, device: str, config: QAConfig, args: QATrainArgs, init) -> tuple[QAModel, QAConfig | None]:
    """The span model on the base encoder (from ``init``'s weights when given), its trainable set chosen."""
    encoder = Encoder(base, device=device, max_length=config.max_length)
    if args.train_layers is not None and args.train_layers > encoder.num_layers:
        raise ParameterError("train_layers", f"train_layers {args.train_layers} exceeds the encoder's {encoder.num_layers} layers")
    model = QAModel(encoder)
    init_config = None
    if init is not None:
        init_path, init_config = read_config(init)
        if init_config.base_model != _base_name(base):
            raise ParameterError("init", f"init {init_path} was trained on base {init_config.base_model!r}, not {_base_name(base)!r}")
        load_weights_into(model, init_path, init_config)
    model.set_trainable(model.trainable_names(args.train_layers))
    return model, init_config


def _train_features(encoder: Encoder, examples, config: QAConfig, log) -> QAFeatures:
    """Windows with start/end labels for the training questions."""
    spans = [None if e.is_impossible else (e.answers[0].start, e.answers[0].end) for e in examples]
    features = build_features(
        encoder, [e.question for e in examples], [e.context for e in examples],
        doc_stride=config.doc_stride, max_question_length=config.max_question_length, answers=spans,
    )
    cut = features.questions_truncated
    log(
        f"{len(examples)} training questions -> {len(features)} windows of <= {config.max_length} tokens"
        + (f"; {cut} question(s) cut to {config.max_question_length} tokens" if cut else "")
    )
    return features


def _trainer(model: QAModel, features: QAFeatures, config: QAConfig, args: QATrainArgs, dev, run: _Run, out_dir, progress, log) -> Trainer:
    """The shared Trainer over length-grouped window batches, scoring F1 on ``dev`` each epoch."""
    encoder = model.wrapped
    pad_id = encoder.tokenizer.pad_token_id or 0
    lengths = features.windows.lengths
    trainable = model.trainable_names(args.train_layers)

    def batches(epoch: int) -> _Batches:
        order = grouped_batches(lengths, args.batch_size, seed=args.seed, epoch=epoch)
        return _Batches(features, order, pad_id, encoder.input_keys)

    # With a null threshold still to be chosen, a SQuAD 2.0 epoch is judged at its best
    # threshold (the F1 it will have once calibrated), not at the provisional one.
    metric = "best_f1" if dev is not None and dev.version_2 and run.threshold_data is not None else "f1"

    def evaluate(m: QAModel) -> dict[str, float]:
        if metric == "f1":
            result = evaluate_squad(m, config, dev, batch_size=args.eval_batch_size)
            return {"f1": result.f1, "exact": result.exact}
        spans = evaluate_squad(m, config, dev, batch_size=args.eval_batch_size, null_threshold=math.inf)  # one pass
        at = metrics_at(spans, dev, config.null_threshold)
        return {"f1": at["f1"], "exact": at["exact"], "best_f1": spans.metrics["best_f1"]}

    return Trainer(
        model,
        batches,
        lambda m, batch: m.loss(m.to_device_batch(batch)),
        evaluate if dev is not None else None,
        TrainConfig(
            **args.trainer_fields(), metric=metric, encoder_prefix="encoder.", num_layers=encoder.num_layers, keep_checkpoint=True,
            resume_args=_resume_args(args, config, run.base, run.init, run.train_path),
        ),
        out_dir=Path(out_dir) / WORK_DIR,
        freeze=lambda m, frozen: m.set_trainable([n for n in trainable if n.startswith("head.")] if frozen else trainable),
        batch_size_of=lambda b: int(b["input_ids"].shape[0]),
        progress=progress,
        log=log,
    )


def _save(model: QAModel, config: QAConfig, args: QATrainArgs, result: TrainResult, train: SquadData, features, dev, run: _Run, out_dir) -> QATrainOutcome:
    """Choose the null threshold, score the final model on dev, record the run in (a copy of) the config, write the directory."""
    if run.threshold_data is not None:
        choice = choose_null_threshold(model, config, run.threshold_data, source=Path(run.threshold_path).name, batch_size=args.eval_batch_size)
        config = with_threshold(config, choice)
    dev_result = evaluate_squad(model, config, dev, batch_size=args.eval_batch_size) if dev is not None else None
    before = run.init_config.training.get("total_seconds", run.init_config.training.get("seconds", 0)) if run.init_config else 0
    config = replace(config, training={
        **config.training,
        "train_file": Path(run.train_path).name,
        "init": str(run.init) if run.init is not None else None,
        "dev_file": Path(run.dev_path).name if run.dev_path is not None else None,
        "questions": run.questions,
        "windows": len(features),
        "seconds": round(result.seconds, 1),
        "total_seconds": round(result.seconds + before, 1),
        "steps": result.steps,
        "args": args.model_dump(exclude={"resume", "progress", "device"}),
        "dev": {k: round(v, 3) for k, v in dev_result.metrics.items()} if dev_result is not None else None,
    })
    with writing_model_dir(out_dir) as stage:  # built beside the old directory, swapped in whole
        (stage / "history.json").write_text(json.dumps(result.history, indent=1), encoding="utf-8")
        if result.history:  # before saving, so that the manifest covers it
            plot_training_curves(result.history, stage / "training_curves.png", title="QA training")
        save_qa_model(model, config, stage)
    out = Path(out_dir)  # the checkpoint went with the old directory
    files = [out] + ([out / "training_curves.png"] if result.history else [])
    return QATrainOutcome(model, config, result, train, features, dev_result, files)
