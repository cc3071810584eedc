"""A task-agnostic training loop: epochs, AdamW + schedule, clipping, bf16, freezing,
evaluation each epoch, best weights kept, early stopping, atomic checkpoints and resume.

The task supplies four things::

    batches(epoch) -> Sequence[batch]        # seeded by epoch, e.g. grouped_batches(...)
    loss_fn(model, batch) -> Tensor          # scalar loss (moves the batch to the device)
    evaluate(model) -> dict[str, float]      # called under no_grad with model.eval()
    config: TrainConfig

A run killed at any point continues with ``fit(resume=True)`` from its last checkpoint,
mid-epoch included: batch order depends only on (seed, epoch), so the finished batches
of the current epoch are skipped and the RNG state is restored.

Under ``torchrun`` (see :mod:`bertkit.training.ddp`) the same call trains data-parallel:
each step takes one batch per rank, DistributedDataParallel averages the gradients,
rank 0 evaluates and broadcasts its metrics, and only rank 0 writes checkpoints, the
best weights and the history.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from bertkit.training import ddp
from bertkit.training.checkpoint import TrainState, find_checkpoint, load_checkpoint, load_weights, save_checkpoint, save_weights
from bertkit.training.optim import build_optimizer, build_param_groups, linear_schedule
from bertkit.training.seed import seed_everything

__all__ = ["TrainConfig", "TrainResult", "Trainer", "freeze_prefix"]

CHECKPOINT_DIR = "checkpoint"
BEST_FILE = "best.safetensors"


@dataclass
class TrainConfig:
    epochs: int = 3
    lr: float = 3e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1  # fraction of all steps spent warming up
    layer_lr_decay: float = 1.0  # < 1: lower encoder layers learn more slowly
    max_grad_norm: float | None = 1.0  # gradient clipping (None: off)
    dtype: str = "fp32"  # fp32 or bf16 (autocast)
    freeze_epochs: int = 0  # first N epochs: parameters under encoder_prefix frozen
    patience: int | None = None  # early stopping after N epochs without improvement
    metric: str = "accuracy"  # key of evaluate()'s dict that picks the best epoch
    greater_is_better: bool = True
    seed: int = 42
    checkpoint_every: int = 200  # steps between mid-epoch checkpoints (0: epoch ends only)
    encoder_prefix: str = "encoder."
    num_layers: int | None = None  # encoder layers, for layer_lr_decay (None: from names)
    keep_checkpoint: bool = False  # keep the last checkpoint after a finished run
    resume_args: dict = field(default_factory=dict)  # the task's model-shaping arguments; a resume must match them

    def shaping_args(self) -> dict:
        """What a checkpoint must have been made with to be resumed: these settings + ``resume_args``."""
        keys = ("epochs", "lr", "weight_decay", "warmup_ratio", "layer_lr_decay", "max_grad_norm", "dtype",
                "freeze_epochs", "seed", "encoder_prefix", "num_layers")
        return json.loads(json.dumps({**{k: getattr(self, k) for k in keys}, **self.resume_args}, default=str))

    def __post_init__(self) -> None:
        if self.dtype not in ("fp32", "bf16"):
            raise ValueError(f"training dtype must be fp32 or bf16, got {self.dtype!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if not 0 <= self.freeze_epochs <= self.epochs:
            raise ValueError(f"freeze_epochs must be in 0..epochs ({self.epochs}), got {self.freeze_epochs}")


@dataclass
class TrainResult:
    history: list[dict]
    best_metric: float | None
    best_epoch: int | None
    stopped_early: bool
    resumed_at: tuple[int, int] | None  # (epoch, step in epoch) a resumed run started from
    seconds: float
    steps: int
    examples: int = 0
    extra: dict = field(default_factory=dict)


def freeze_prefix(prefix: str) -> Callable[[nn.Module, bool], None]:
    """A freeze hook: (un)freeze the parameters under ``prefix`` that were trainable.

    The set is taken at the first call, so parameters the caller froze on purpose
    (lower layers, a LoRA base) stay frozen when the encoder is "unfrozen".
    """
    trainable: set[str] | None = None

    def freeze(model: nn.Module, frozen: bool) -> None:
        nonlocal trainable
        if trainable is None:
            trainable = {n for n, p in model.named_parameters() if n.startswith(prefix) and p.requires_grad}
        for name, param in model.named_parameters():
            if name in trainable:
                param.requires_grad_(not frozen)

    return freeze


class Trainer:
    def __init__(
        self,
        model: nn.Module,
        batches: Callable[[int], Sequence[Any]],
        loss_fn: Callable[[nn.Module, Any], torch.Tensor],
        evaluate: Callable[[nn.Module], dict[str, float]] | None,
        config: TrainConfig,
        *,
        out_dir: str | Path | None = None,
        freeze: Callable[[nn.Module, bool], None] | None = None,
        batch_size_of: Callable[[Any], int] = len,
        progress: bool = False,
        log: Callable[[str], None] | None = None,
        log_every: float | None = 60.0,
    ) -> None:
        """``progress``: a tqdm bar; without it, ``log`` gets a line on the epoch's progress at
        most every ``log_every`` seconds (None: never), for logs that are not a terminal."""
        self.model = model
        self.batches = batches
        self.loss_fn = loss_fn
        self.evaluate = evaluate
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.freeze = freeze or freeze_prefix(config.encoder_prefix)
        self.batch_size_of = batch_size_of
        self.progress = progress
        self.log = log or (lambda message: None)
        self.log_every = log_every
        self.device = next(iter(model.parameters())).device
        self.dist = ddp.current()

    # -- pieces ----------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.dtype == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _better(self, value: float, best: float | None) -> bool:
        if best is None or math.isnan(best):
            return not math.isnan(value)
        return value > best if self.config.greater_is_better else value < best

    @property
    def _writes(self) -> bool:
        """Whether this process writes files: there is an out_dir and it is rank 0 (or alone)."""
        return self.out_dir is not None and self.dist.main

    def _checkpoint(self, optimizer, scheduler, state: TrainState) -> None:
        if self._writes:
            save_checkpoint(self.out_dir / CHECKPOINT_DIR, self.model, optimizer, scheduler, state)

    def _run_evaluate(self) -> dict[str, float]:
        if self.evaluate is None:
            return {}
        self.model.eval()
        with torch.no_grad():
            metrics = self.evaluate(self.model)
        self.model.train()
        return {k: float(v) for k, v in metrics.items()}

    # -- the loop --------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        """Train; under torchrun every rank calls this and rank 0 alone writes files."""
        cfg = self.config
        seed_everything(cfg.seed)
        self.dist = ddp.setup()
        if not self.dist.main:  # rank 0 reports for everybody
            self.log = lambda message: None
        steps_per_epoch = ddp.steps_in(len(self.batches(0)), self.dist.world)
        optimizer, scheduler = self._optimizer(steps_per_epoch * cfg.epochs)
        state, resumed_at = self._start_state(optimizer, scheduler, resume, steps_per_epoch)
        start = time.perf_counter()
        examples = 0
        self.model.train()
        while state.epoch < cfg.epochs:
            epoch_start = time.perf_counter()
            examples += self._train_epoch(state, optimizer, scheduler)
            self._end_epoch(state, optimizer, scheduler, epoch_start)
        return self._finish(state, resumed_at, start, ddp.all_sum(examples, self.dist))

    def _optimizer(self, total_steps: int):
        cfg = self.config
        groups = build_param_groups(
            self.model, lr=cfg.lr, weight_decay=cfg.weight_decay, layer_lr_decay=cfg.layer_lr_decay,
            num_layers=cfg.num_layers, encoder_prefix=cfg.encoder_prefix,
        )
        optimizer = build_optimizer(groups, cfg.lr)
        return optimizer, linear_schedule(optimizer, round(cfg.warmup_ratio * total_steps), total_steps)

    def _start_state(self, optimizer, scheduler, resume: bool, steps_per_epoch: int) -> tuple[TrainState, tuple[int, int] | None]:
        """A fresh state, or the checkpoint's (every rank reads the one rank 0 wrote)."""
        if resume and self.out_dir is not None and find_checkpoint(self.out_dir / CHECKPOINT_DIR):
            state = load_checkpoint(self.out_dir / CHECKPOINT_DIR, self.model, optimizer, scheduler, expected_args=self.config.shaping_args())
            if self.dist.active:  # rank 0's RNG state was saved: give each rank its own dropout stream again
                torch.manual_seed(self.config.seed + 1_000_003 * self.dist.rank + state.global_step)
            self.log(f"resumed from checkpoint: epoch {state.epoch + 1}, step {state.step_in_epoch} of {steps_per_epoch}")
            return state, (state.epoch, state.step_in_epoch)
        if resume:
            self.log("no checkpoint to resume from; starting from the beginning")
        if self.dist.active:
            torch.manual_seed(self.config.seed + 1_000_003 * self.dist.rank)
        return TrainState(seed=self.config.seed, extra={"args": self.config.shaping_args()}), None

    def _runner(self) -> Callable[[Any], torch.Tensor]:
        """batch -> loss; under torchrun through DistributedDataParallel (gradients averaged).

        Built per epoch, after freezing: DDP syncs only the parameters that need grad when built.
        """
        if not self.dist.active:
            return lambda batch: self.loss_fn(self.model, batch)
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(_LossModule(self.model, self.loss_fn), device_ids=device_ids, find_unused_parameters=True)

    def _train_epoch(self, state: TrainState, optimizer, scheduler) -> int:
        """Run the rest of ``state.epoch``; returns this rank's examples."""
        cfg, info = self.config, self.dist
        self.freeze(self.model, state.epoch < cfg.freeze_epochs)
        batches = self.batches(state.epoch)
        steps = ddp.steps_in(len(batches), info.world)
        runner = self._runner()
        bar = tqdm(
            total=steps, initial=state.step_in_epoch, desc=f"epoch {state.epoch + 1}/{cfg.epochs}",
            unit="batch", disable=not (self.progress and info.main), leave=False,
        )
        examples = 0
        lines = _ProgressLines(self.log, self.log_every if info.main and not self.progress else None,
                              f"epoch {state.epoch + 1}/{cfg.epochs}", steps, state.step_in_epoch)
        for step in range(state.step_in_epoch, steps):
            batch = ddp.rank_batch(batches, step, info)
            loss = self._step(runner, batch, optimizer, scheduler)
            state.running_loss += ddp.all_sum(loss, info) / info.world
            state.step_in_epoch = step + 1
            state.global_step += 1
            examples += self.batch_size_of(batch)
            bar.update(1)
            bar.set_postfix(loss=f"{state.running_loss / state.step_in_epoch:.4f}")
            lines.step(step + 1, state.running_loss / state.step_in_epoch)
            if cfg.checkpoint_every and state.global_step % cfg.checkpoint_every == 0 and step + 1 < steps:
                self._checkpoint(optimizer, scheduler, state)
        bar.close()
        return examples

    def _step(self, runner, batch, optimizer, scheduler) -> float:
        with self._autocast():
            loss = runner(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm:
            trainable = [p for p in self.model.parameters() if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(trainable, self.config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        return float(loss.detach())

    def _end_epoch(self, state: TrainState, optimizer, scheduler, epoch_start: float) -> None:
        """Evaluate (rank 0; the others get its metrics), keep the best weights, stop early, checkpoint."""
        cfg = self.config
        epoch = state.epoch
        metrics = ddp.broadcast(self._run_evaluate() if self.dist.main else None, self.dist)
        steps = max(1, state.step_in_epoch)
        record = {
            "epoch": epoch + 1, "train_loss": state.running_loss / steps, "lr": scheduler.get_last_lr()[0],
            "frozen": epoch < cfg.freeze_epochs, "seconds": round(time.perf_counter() - epoch_start, 3), **metrics,
        }
        state.history.append(record)
        self.log(_describe(record, cfg.metric))
        value = metrics.get(cfg.metric)
        if value is not None and self._better(value, state.best_metric):
            state.best_metric, state.best_epoch, state.epochs_without_improvement = value, epoch + 1, 0
            if self._writes:
                save_weights(self.model, self.out_dir / BEST_FILE)
        elif value is not None:
            state.epochs_without_improvement += 1
        state.epoch, state.step_in_epoch, state.running_loss = epoch + 1, 0, 0.0
        if cfg.patience is not None and state.epochs_without_improvement >= cfg.patience and state.epoch < cfg.epochs:
            state.extra["stopped_early"] = True
            self.log(f"early stopping: no improvement in {cfg.metric} for {cfg.patience} epoch(s)")
            state.epoch = cfg.epochs
        self._checkpoint(optimizer, scheduler, state)

    def _finish(self, state: TrainState, resumed_at, start: float, examples: float) -> TrainResult:
        """Restore the best epoch's weights on every rank; rank 0 writes history and cleans up."""
        cfg = self.config
        self.freeze(self.model, False)
        ddp.barrier(self.dist)  # rank 0's best weights are on disk
        if self.out_dir is not None and state.best_epoch is not None and (self.out_dir / BEST_FILE).is_file():
            load_weights(self.model, self.out_dir / BEST_FILE)
        self.model.eval()
        ddp.barrier(self.dist)  # every rank has read them
        if self._writes:
            (self.out_dir / "history.json").write_text(json.dumps(state.history, indent=1), encoding="utf-8")
            if not cfg.keep_checkpoint:
                shutil.rmtree(self.out_dir / CHECKPOINT_DIR, ignore_errors=True)
                (self.out_dir / BEST_FILE).unlink(missing_ok=True)
        return TrainResult(
            history=state.history, best_metric=state.best_metric, best_epoch=state.best_epoch,
            stopped_early=bool(state.extra.get("stopped_early")), resumed_at=resumed_at,
            seconds=time.perf_counter() - start, steps=state.global_step, examples=int(examples),
            extra={"config": asdict(cfg), "world_size": self.dist.world},
        )


class _LossModule(nn.Module):
    """``loss_fn(model, batch)`` as a module's forward, so DDP sees (and syncs) the whole step."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[nn.Module, Any], torch.Tensor]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> torch.Tensor:
        return self.loss_fn(self.model, batch)


class _ProgressLines:
    """Plain progress lines for logs: at most one every ``every`` seconds (None: none)."""

    def __init__(self, log: Callable[[str], None], every: float | None, desc: str, steps: int, start: int) -> None:
        self.log, self.every, self.desc, self.steps, self.start = log, every, desc, steps, start
        self.began = self.last = time.monotonic()

    def step(self, done: int, loss: float) -> None:
        now = time.monotonic()
        if self.every is None or now - self.last < self.every or done >= self.steps:
            return
        self.last = now
        rate = (now - self.began) / max(done - self.start, 1)  # seconds per step
        left = (self.steps - done) * rate / 60
        self.log(f"{self.desc}: {done}/{self.steps} steps, train loss {loss:.4f}, {rate:.2f} s/step, about {left:.1f} min left in the epoch")


def _describe(record: dict, metric: str) -> str:
    parts = [f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}"]
    parts += [f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "train_loss", "lr", "frozen", "seconds") and isinstance(v, float)]
    parts.append(f"{record['seconds']:.1f} s" + (" (encoder frozen)" if record["frozen"] else ""))
    return ", ".join(parts)
