"""The one bundle of training arguments shared by every ``train`` command and function.

``bertkit classify train``, ``qa train``, ``tag train`` (and ``rerank train``) take the
same flags with the same meaning, validated by one pydantic model::

    --epochs N          passes over the data (>= 1; 0 is refused, never "the default")
    --lr X              peak learning rate (> 0), linear warm-up then linear decay
    --batch-size N      examples per step (>= 1)
    --weight-decay X    AdamW weight decay (>= 0, not on biases and norms)
    --warmup-ratio X    fraction of the steps spent warming up, in [0, 1]
    --max-grad-norm X   gradient clipping norm (> 0; 0 turns clipping off)
    --freeze-epochs N   first N epochs with the encoder frozen (0..epochs)
    --layer-lr-decay X  in (0, 1]: each lower encoder layer learns this factor slower
    --patience N        early stopping after N epochs without dev gain (0: off)
    --dtype D           fp32, or bf16 autocast
    --seed N            seed of the split, the batch order, the initialisation, dropout
    --checkpoint-every N  steps between mid-epoch checkpoints (0: at epoch ends only)
    --resume            continue a killed run from the checkpoint in --out

``None`` for ``epochs``, ``lr``, ``batch_size`` and ``patience`` means the task's default,
filled in by :meth:`TrainArgs.with_defaults`; every other value means what it says. A
task subclasses :class:`TrainArgs` with its own fields (``QATrainArgs``, ``RunOptions``,
``TagTrainOptions``). A bad value raises :class:`~bertkit.errors.ParameterError` naming
the field (``lr: must be > 0, got -1.0``), which the CLI turns into its flag
(``--lr: must be > 0, got -1.0``, see :data:`TRAIN_FLAGS`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bertkit.errors import ParameterError

__all__ = ["TrainArgs", "TRAIN_FLAGS", "DEPRECATED_FLAGS", "parameter_error", "flag_name"]

# Flags once spelled differently by one command: still accepted, with a one-line notice.
DEPRECATED_FLAGS = {"--warmup": "--warmup-ratio", "--limit": "--max-train"}


class TrainArgs(BaseModel):
    """How to train (task-independent). Build it with keywords; see the module docstring."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True, strict=False)

    epochs: int | None = Field(None, ge=1)
    lr: float | None = Field(None, gt=0)
    batch_size: int | None = Field(None, ge=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    max_grad_norm: float = Field(1.0, ge=0)  # 0: no clipping
    freeze_epochs: int = Field(0, ge=0)
    layer_lr_decay: float = Field(1.0, gt=0, le=1)
    patience: int | None = Field(None, ge=0)  # 0: no early stopping
    dtype: Literal["fp32", "bf16"] = "fp32"
    seed: int = Field(42, ge=0)
    checkpoint_every: int = Field(200, ge=0)
    resume: bool = False
    device: str = "auto"
    progress: bool = False

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise parameter_error(exc) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise parameter_error(exc) from None

    @model_validator(mode="after")
    def _check_together(self):
        if self.epochs is not None and self.freeze_epochs > self.epochs:
            raise ValueError(f"freeze_epochs: must be in 0..{self.epochs} (at most --epochs), got {self.freeze_epochs}")
        return self

    def updated(self, **changes: Any):
        """A validated copy with ``changes`` (the caller's object is untouched)."""
        return type(self)(**{**self.model_dump(), **changes})

    def with_defaults(self, *, epochs: int, lr: float, batch_size: int, patience: int | None = 0):
        """A copy with the task's defaults for the fields left ``None``."""
        given = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "patience": patience}
        return self.updated(**{k: v for k, v in given.items() if getattr(self, k) is None})

    def trainer_fields(self) -> dict[str, Any]:
        """The fields of :class:`~bertkit.training.TrainConfig` these arguments set
        (call on a :meth:`with_defaults` copy): clipping 0 and patience 0 become ``None`` (off)."""
        missing = [k for k in ("epochs", "lr") if getattr(self, k) is None]
        if missing:
            raise ParameterError(missing[0], f"{missing[0]}: not set; call with_defaults() (or the task's for_head) first")
        keys = ("epochs", "lr", "weight_decay", "warmup_ratio", "layer_lr_decay", "dtype", "freeze_epochs", "seed", "checkpoint_every")
        fields = {k: getattr(self, k) for k in keys}
        fields["max_grad_norm"] = self.max_grad_norm or None
        fields["patience"] = self.patience or None
        return fields


def flag_name(field: str) -> str:
    """``max_grad_norm`` -> ``--max-grad-norm``."""
    return "--" + field.replace("_", "-")


TRAIN_FLAGS = {name: flag_name(name) for name in TrainArgs.model_fields}


def _describe(error: dict) -> str:
    """One pydantic error as ``must be > 0, got -1.0``."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    bounds = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}
    if kind in bounds:
        key, sign = bounds[kind]
        bound = ctx[key]
        rule = f"must be {sign} {int(bound) if isinstance(bound, float) and bound.is_integer() else bound}"
    elif kind == "finite_number":
        rule = "must be a finite number"
    elif kind == "literal_error":
        options = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"unknown value {value!r}; valid options: {options}"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        rule = "must be an integer"
    elif kind in ("float_type", "float_parsing"):
        rule = "must be a number"
    elif kind in ("bool_type", "bool_parsing"):
        rule = "must be true or false"
    elif kind == "extra_forbidden":
        return "unknown training argument"
    else:
        rule = error["msg"][0].lower() + error["msg"][1:]
    return f"{rule}, got {value!r}"


def parameter_error(exc: ValidationError) -> ParameterError:
    """The first error of ``exc`` as ``ParameterError(field, "field: must be ..., got ...")``."""
    error = exc.errors()[0]
    loc = [str(part) for part in error.get("loc", ())]
    if not loc:  # a model-level rule: its message starts with the field
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        field = message.split(":", 1)[0].strip()
        return ParameterError(field, message)
    field = loc[0]
    return ParameterError(field, f"{field}: {_describe(error)}")
