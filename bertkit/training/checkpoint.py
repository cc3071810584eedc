"""Atomic training checkpoints: safetensors for tensors, JSON for everything else (no pickle).

A checkpoint is a directory::

    model.safetensors      the model's state dict
    optimizer.safetensors  optimizer tensors (exp_avg, exp_avg_sq, step, ...) as ``state.<i>.<name>``
                           and the torch RNG state(s)
    state.json             optimizer param-group settings, scheduler state, epoch, step in
                           epoch, global step, seed, best metric, history, user extras

It is written into a temporary directory beside the target and renamed into place, so
a kill at any moment leaves either the previous checkpoint or the new one, never half.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from bertkit.errors import BertkitError
from bertkit.io.atomic import DIR_MODE, atomic_path, set_file_mode, temp_sibling

__all__ = [
    "TrainState", "save_checkpoint", "load_checkpoint", "find_checkpoint", "save_weights", "load_weights", "state_tensors",
    "CheckpointError", "check_resume_args", "resume_args",
]

STATE_FILE = "state.json"
MODEL_FILE = "model.safetensors"
OPTIM_FILE = "optimizer.safetensors"


@dataclass
class TrainState:
    """Where a run stands. ``step_in_epoch`` batches of ``epoch`` are done (0 = epoch not started)."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    seed: int = 0
    best_metric: float | None = None
    best_epoch: int | None = None
    epochs_without_improvement: int = 0
    history: list[dict] = field(default_factory=list)
    running_loss: float = 0.0  # sum of losses so far in the current epoch
    extra: dict = field(default_factory=dict)


def state_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as contiguous CPU tensors; tensors sharing storage are cloned apart."""
    state: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for k, v in module.state_dict().items():
        v = v.detach()
        ptr = v.untyped_storage().data_ptr() if v.numel() else -1
        state[k] = (v.clone() if ptr in seen else v).contiguous().cpu()
        if ptr != -1:
            seen.add(ptr)
    return state


def save_weights(module: nn.Module, path: str | os.PathLike) -> None:
    """A module's state dict to safetensors, atomically, readable as the umask allows (0644)."""
    state = state_tensors(module)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


def load_weights(module: nn.Module, path: str | os.PathLike, strict: bool = True) -> None:
    module.load_state_dict(load_file(str(path)), strict=strict)


def _optimizer_split(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for idx, pstate in sd["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalar_state": scalars}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if not key.startswith("state."):
            continue
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = value
    for idx, values in meta.get("scalar_state", {}).items():
        state.setdefault(int(idx), {}).update(values)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


def _json_safe(value):
    return json.loads(json.dumps(value, default=lambda o: None))


def save_checkpoint(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    state: TrainState,
) -> Path:
    """Write a complete checkpoint to ``directory`` atomically (replacing any previous one)."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(target)
    try:
        tmp.mkdir(mode=0o700)
        save_file(state_tensors(model), str(tmp / MODEL_FILE))
        meta: dict = {"state": asdict(state)}
        tensors = {"rng.torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda.{i}"] = s
        if optimizer is not None:
            opt_tensors, meta["optimizer"] = _optimizer_split(optimizer)
            tensors.update(opt_tensors)
        if scheduler is not None:
            meta["scheduler"] = _json_safe(scheduler.state_dict())
        save_file(tensors, str(tmp / OPTIM_FILE))
        (tmp / STATE_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        for file in tmp.iterdir():
            set_file_mode(file)
        os.chmod(tmp, DIR_MODE)  # made 0700 above
        old = target.with_name(target.name + ".old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def find_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The complete checkpoint at ``directory`` (or its ``.old`` twin left by a kill mid-rename)."""
    target = Path(directory)
    for candidate in (target, target.with_name(target.name + ".old")):
        if all((candidate / f).is_file() for f in (MODEL_FILE, OPTIM_FILE, STATE_FILE)):
            return candidate
    return None


def load_checkpoint(
    directory: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    *,
    expected_args: dict | None = None,
) -> TrainState:
    """Restore model, optimizer, scheduler and RNG from a checkpoint; return the TrainState.

    A damaged file raises :class:`CheckpointError` naming it; ``expected_args`` (the
    arguments that shape the model and the optimizer, stored in ``state.extra["args"]``
    when the run began) must match those the checkpoint was made with.
    """
    path = find_checkpoint(directory)
    if path is None:
        raise FileNotFoundError(f"no complete checkpoint in {directory}")
    meta = _read_meta(path)
    if expected_args is not None:
        check_resume_args(path, meta["state"].get("extra", {}).get("args"), expected_args)
    device = next(iter(model.parameters())).device
    try:
        model.load_state_dict(_load_tensors(path / MODEL_FILE, str(device)))
        tensors = _load_tensors(path / OPTIM_FILE, "cpu")
        torch.set_rng_state(tensors["rng.torch"])
        cuda_states = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.cuda."))]
        if cuda_states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda_states)
        if optimizer is not None and "optimizer" in meta:
            optimizer.load_state_dict(_optimizer_join(tensors, meta["optimizer"]))
        if scheduler is not None and "scheduler" in meta:
            scheduler.load_state_dict(meta["scheduler"])
        return TrainState(**meta["state"])
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: the checkpoint does not fit this run ({_first_line(exc)}); {START_OVER}"
        ) from None


NOT_SHAPING = ("resume", "progress", "cache_dir", "no_cache", "device", "checkpoint_every", "patience", "out")


def resume_args(options, ignore: tuple[str, ...] = NOT_SHAPING) -> dict:
    """A task's option dataclass as the arguments a resumed run must share with its checkpoint
    (for ``TrainConfig.resume_args``): all fields but those that do not shape the run."""
    values = options.model_dump() if hasattr(options, "model_dump") else asdict(options)  # TrainArgs or a dataclass
    return {k: v for k, v in values.items() if k not in ignore}


START_OVER = "run the same command without --resume to start over (the checkpoint is then replaced)"


class CheckpointError(BertkitError):
    """A checkpoint that is damaged, or that was made with other arguments than this run's."""


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]


def _read_meta(path: Path) -> dict:
    file = path / STATE_FILE
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
            raise ValueError("no 'state' object")
        return meta
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{file}: damaged checkpoint (truncated or not JSON: {_first_line(exc)}); {START_OVER}") from None


def _load_tensors(file: Path, device: str) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{file}: damaged checkpoint (truncated or not safetensors: {_first_line(exc)}); {START_OVER}") from None


def check_resume_args(path: Path, saved: dict | None, current: dict) -> None:
    """Refuse resuming with arguments that shape the model or the optimizer differently."""
    if saved is None:
        return  # a checkpoint from before the arguments were recorded
    current = json.loads(json.dumps(current, default=str))
    changed = [
        f"{key} {saved.get(key, '(unset)')!r} -> {current.get(key, '(unset)')!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
    ]
    if changed:
        raise CheckpointError(
            f"--resume with changed arguments: {', '.join(changed)} (checkpoint {path}); resume with the original "
            "arguments, or run without --resume to start over"
        )
