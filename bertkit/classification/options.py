"""Training options for ``bertkit classify train`` (and the library's ``train_classifier``)."""

from __future__ import annotations

from dataclasses import dataclass

from bertkit.errors import ParameterError, UsageError, choice_error

__all__ = ["MODES", "TrainOptions", "parse_label_names", "option_flags"]

MODES = ("finetune", "features")


@dataclass
class TrainOptions:
    train: str
    out: str
    dev: str | None = None
    dev_split: float | None = None  # default 0.1 when no --dev
    mode: str = "finetune"
    pooling: str = "mean"  # a registry spec ("mean", "mean+max") or "all"
    model: str | None = None  # base encoder directory (None: packaged all-MiniLM-L6-v2)
    text_column: str = "text"
    pair_column: str | None = None
    label_column: str = "label"
    label_names: str | None = None  # "0=negative,1=positive": rename raw labels
    epochs: int | None = None  # finetune 3, features 30
    lr: float | None = None  # finetune 3e-5 (LoRA 5e-4), features 1e-3
    batch_size: int | None = None  # finetune 32, features 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    freeze_epochs: int = 0
    layer_lr_decay: float = 1.0
    dtype: str = "fp32"  # fp32 | bf16 (autocast)
    patience: int | None = 2  # early stopping
    dropout: float = 0.1
    hidden: int = 0  # head MLP hidden size (0: linear)
    head: str = "linear"  # linear | mlp (--hidden, default 256) | bilstm | cnn (features mode: networks over cached token states)
    layers: str = "-1"
    layer_start: int | None = None
    max_length: int | None = None
    lora: int = 0  # LoRA rank (0: full fine-tuning)
    max_train: int | None = None  # seeded random subsample of the training rows
    seed: int = 42
    resume: bool = False
    cache_dir: str | None = None
    no_cache: bool = False
    device: str = "auto"
    checkpoint_every: int = 200
    progress: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise choice_error("mode", self.mode, MODES)
        if self.dtype not in ("fp32", "bf16"):
            raise choice_error("training dtype", self.dtype, ("fp32", "bf16"))
        if self.dev is not None and self.dev_split is not None:
            raise ParameterError("dev", "give either dev (a file) or dev_split (a fraction), not both", "dev_split")
        if self.dev is None and self.dev_split is None:
            self.dev_split = 0.1
        if self.epochs is None:
            self.epochs = 3 if self.mode == "finetune" else 30
        if self.lr is None:
            self.lr = (5e-4 if self.lora else 3e-5) if self.mode == "finetune" else 1e-3
        if self.batch_size is None:
            self.batch_size = 32 if self.mode == "finetune" else 128
        checks = [  # (ok, parameter, message): the CLI names its flag instead of the parameter
            (self.epochs >= 1, "epochs", f"epochs must be >= 1, got {self.epochs}"),
            (self.lr > 0, "lr", f"lr must be > 0, got {self.lr}"),
            (self.batch_size >= 1, "batch_size", f"batch_size must be >= 1, got {self.batch_size}"),
            (0 <= self.freeze_epochs <= self.epochs, "freeze_epochs", f"freeze_epochs must be in 0..{self.epochs}, got {self.freeze_epochs}"),
            (0 < self.layer_lr_decay <= 1, "layer_lr_decay", f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay}"),
            (0 <= self.dropout < 1, "dropout", f"dropout must be in [0, 1), got {self.dropout}"),
            (self.lora >= 0, "lora", f"lora must be >= 0, got {self.lora}"),
            (self.max_train is None or self.max_train >= 2, "max_train", f"max_train must be >= 2, got {self.max_train}"),
            (self.patience is None or self.patience >= 1, "patience", f"patience must be >= 1, got {self.patience}"),
        ]
        for ok, param, message in checks:
            if not ok:
                raise ParameterError(param, message)
        if self.label_names is not None:
            parse_label_names(self.label_names)
        self._check_head()
        if self.mode == "features" and (self.lora or self.freeze_epochs or self.layer_lr_decay != 1.0):
            raise ParameterError("mode", "lora, freeze_epochs and layer_lr_decay apply to mode finetune only",
                                 "lora", "freeze_epochs", "layer_lr_decay")


    def _check_head(self) -> None:
        from bertkit.classification.seqheads import HEADS, SEQUENCE_HEADS

        if self.head not in HEADS:
            raise choice_error("head", self.head, HEADS)
        if self.head == "mlp" and self.hidden == 0:
            self.hidden = 256
        if self.head != "mlp" and self.hidden and self.head != "linear":
            raise UsageError(f"--hidden is for --head mlp, not --head {self.head}")
        if self.head in SEQUENCE_HEADS and self.mode != "features":
            raise UsageError(f"--head {self.head} trains on cached token states: it needs --mode features")
        if self.head in SEQUENCE_HEADS and self.pooling == "all":
            raise UsageError(f"--head {self.head} takes one --pooling, not all")


def parse_label_names(spec: str) -> dict[str, str]:
    """``"0=negative,1=positive"`` -> {"0": "negative", "1": "positive"}."""
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        raw, sep, name = part.partition("=")
        if not sep or not raw.strip() or not name.strip():
            raise ParameterError("label_names", f"malformed label_names {spec!r}; expected RAW=NAME pairs like 0=negative,1=positive")
        mapping[raw.strip()] = name.strip()
    if len(set(mapping.values())) != len(mapping):
        raise ParameterError("label_names", f"label_names {spec!r} gives two labels the same name")
    return mapping


def option_flags() -> dict[str, str]:
    """Each TrainOptions field's ``bertkit classify train`` flag (``max_train`` -> ``--max-train``)."""
    from dataclasses import fields

    return {f.name: "--" + f.name.replace("_", "-") for f in fields(TrainOptions)}
