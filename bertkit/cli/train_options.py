"""The training flags every ``train`` command shares (one spelling, one meaning, one check).

Each command declares them with these factories (the help names the command's defaults)
and builds its :class:`~bertkit.training.args.TrainArgs` subclass with :func:`build_args`,
which turns a bad value into ``--lr: must be > 0, got -1.0``. Old spellings
(``--warmup``, ``--limit``) are accepted by :func:`deprecated` with a one-line notice.
"""

from __future__ import annotations

from typing import Any, Optional

import typer

from bertkit.cli.options import err_console, finite, flags_for

__all__ = [
    "EpochsOpt", "LrOpt", "BatchSizeTrainOpt", "WeightDecayOpt", "WarmupRatioOpt", "MaxGradNormOpt", "FreezeEpochsOpt",
    "LayerLrDecayOpt", "PatienceOpt", "TrainDtypeOpt", "SeedOpt", "CheckpointEveryOpt", "ResumeOpt", "MaxTrainOpt",
    "TrainLayersOpt", "deprecated", "build_args", "flags_of",
]


def EpochsOpt(default: str) -> Any:
    return typer.Option(None, "--epochs", help=f"Passes over the training data, >= 1 (default: {default}).")


def LrOpt(default: str) -> Any:
    return typer.Option(None, "--lr", callback=finite, help=f"Peak learning rate, > 0 (linear warm-up, then linear decay; default: {default}).")


def BatchSizeTrainOpt(default: str) -> Any:
    return typer.Option(None, "--batch-size", "-b", help=f"Examples per step, >= 1 (default: {default}).")


WeightDecayOpt = typer.Option(0.01, "--weight-decay", callback=finite, help="AdamW weight decay, >= 0 (not on biases and norms).")
WarmupRatioOpt = typer.Option(0.1, "--warmup-ratio", callback=finite, help="Fraction of the steps of linear warm-up, in [0, 1].")
MaxGradNormOpt = typer.Option(1.0, "--max-grad-norm", callback=finite, help="Gradient clipping norm (0: no clipping).")
FreezeEpochsOpt = typer.Option(0, "--freeze-epochs", help="First N epochs with the encoder frozen (head only).")
LayerLrDecayOpt = typer.Option(1.0, "--layer-lr-decay", callback=finite, help="In (0, 1]: each lower encoder layer learns this factor slower.")
TrainDtypeOpt = typer.Option("fp32", "--dtype", help="fp32, or bf16 autocast (fast only on CPUs/GPUs with bf16 units).")
SeedOpt = typer.Option(42, "--seed", help="Random seed (split, batch order, initialisation, dropout).")
CheckpointEveryOpt = typer.Option(200, "--checkpoint-every", help="Steps between mid-epoch checkpoints (0: at epoch ends only).")
ResumeOpt = typer.Option(False, "--resume", help="Continue a killed run from its last checkpoint in --out.")
TrainLayersOpt = typer.Option("all", "--train-layers", help="'all', or train only the top N encoder layers (embeddings frozen).")


def PatienceOpt(default: str) -> Any:
    return typer.Option(None, "--patience", help=f"Early stopping after N epochs without dev gain (0: off; default: {default}).")


def MaxTrainOpt(what: str) -> Any:
    return typer.Option(None, "--max-train", help=f"Train on {what}.")


def deprecated(old_value: Optional[Any], old: str, new_value: Optional[Any], new: str, *, new_default: Any = None) -> Any:
    """The value of ``new``, or of its old spelling ``old`` (with a one-line notice on stderr)."""
    from bertkit.errors import UsageError

    if old_value is None:
        return new_value
    if new_value != new_default:
        raise UsageError(f"{old} is the old name of {new}; give {new} only")
    err_console.print(f"bertkit: warning: {old} is deprecated; use {new}", markup=False)
    return old_value


def build_args(cls: type, flags: dict[str, str] | None = None, **values: Any) -> Any:
    """``cls(**values)``, a bad value reported with its flag (``--lr: must be > 0, got -1.0``)."""
    from bertkit.training.args import TRAIN_FLAGS

    with flags_for(**{**flags_of(cls), **TRAIN_FLAGS, **(flags or {})}):
        return cls(**values)


def flags_of(cls: type) -> dict[str, str]:
    """Every field of the arguments class ``cls`` and its flag (``train_layers`` -> ``--train-layers``)."""
    from bertkit.training.args import flag_name

    fields = getattr(cls, "model_fields", None) or getattr(cls, "__dataclass_fields__", {})
    return {name: flag_name(name) for name in fields}
