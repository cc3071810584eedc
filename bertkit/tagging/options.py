"""Training options for ``bertkit tag train`` (and the library's ``train_tagger``)."""

from __future__ import annotations

from dataclasses import dataclass

from bertkit.errors import UsageError, choice_error
from bertkit.nn.layermix import LAYER_COMBINES
from bertkit.nn.subwords import SUBWORD_RULES
from bertkit.tagging.model import HEADS, MODES

__all__ = ["TagTrainOptions"]

_DEFAULTS = {  # mode -> head, epochs, lr, batch size, dropout, patience
    "features": ("bilstm-crf", 20, 1e-3, 32, 0.5, 5),
    "finetune": ("linear", 3, 5e-5, 16, 0.1, None),
}


@dataclass
class TagTrainOptions:
    train: str
    out: str
    dev: str | None = None  # default: a seeded 10% of --train
    mode: str = "features"
    head: str | None = None  # features: bilstm-crf; finetune: linear
    model: str | None = None  # base encoder directory (None: packaged all-MiniLM-L6-v2)
    layers: str = "-1"
    layer_combine: str = "mean"
    subword: str = "first"
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    dropout: float | None = None
    patience: int | None = None
    lstm_hidden: int = 256
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    layer_lr_decay: float = 1.0
    freeze_epochs: int = 0
    dtype: str = "fp32"
    max_length: int | None = None
    max_train: int | None = None  # seeded random subsample of training sentences
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
        head, epochs, lr, batch, dropout, patience = _DEFAULTS[self.mode]
        self.head = self.head or head
        self.epochs = self.epochs or epochs
        self.lr = self.lr or lr
        self.batch_size = self.batch_size or batch
        self.dropout = dropout if self.dropout is None else self.dropout
        self.patience = patience if self.patience is None else (self.patience or None)
        for what, value, options in (("head", self.head, HEADS), ("layer combination", self.layer_combine, LAYER_COMBINES),
                                     ("subword rule", self.subword, SUBWORD_RULES), ("training dtype", self.dtype, ("fp32", "bf16"))):
            if value not in options:
                raise choice_error(what, value, options)
        checks = [
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (0 <= self.dropout < 1, f"--dropout must be in [0, 1), got {self.dropout}"),
            (self.lstm_hidden >= 1, f"--lstm-hidden must be >= 1, got {self.lstm_hidden}"),
            (0 < self.layer_lr_decay <= 1, f"--layer-lr-decay must be in (0, 1], got {self.layer_lr_decay}"),
            (0 <= self.freeze_epochs <= self.epochs, f"--freeze-epochs must be in 0..{self.epochs}, got {self.freeze_epochs}"),
            (self.max_train is None or self.max_train >= 1, f"--max-train must be >= 1, got {self.max_train}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
        if self.mode == "features" and (self.freeze_epochs or self.layer_lr_decay != 1.0):
            raise UsageError("--freeze-epochs and --layer-lr-decay apply to --mode finetune only")
