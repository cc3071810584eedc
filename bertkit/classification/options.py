"""Options of ``train_classifier`` (and ``bertkit classify train``) in three typed parts:

* :class:`ClassifyData`: where the examples come from (files, columns, label names, subsample);
* :class:`HeadOptions`: the model built on the base encoder (mode, pooling, layers, head, LoRA);
* :class:`RunOptions`: how it trains: the shared :class:`~bertkit.training.args.TrainArgs`
  (pydantic-checked) plus the feature cache; it gives the Trainer's
  :class:`~bertkit.training.TrainConfig`.

Each part checks itself when built and raises :class:`~bertkit.errors.ParameterError`
naming the parameter (``max_train``); ``bertkit classify train`` names its flag instead
(``--max-train``, see :func:`option_flags`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bertkit.errors import ParameterError, UsageError, choice_error
from bertkit.training import TrainConfig
from bertkit.training.args import TrainArgs

__all__ = ["MODES", "ClassifyData", "HeadOptions", "RunOptions", "parse_label_names", "option_flags", "flat_args"]

MODES = ("finetune", "features")

# Every option in the order the saved ``training`` record and the checkpoints' resume
# arguments have always listed them (one flat dict, as before the split into parts).
FLAT_ORDER = (
    "train", "out", "dev", "dev_split", "mode", "pooling", "model", "text_column", "pair_column", "label_column",
    "label_names", "epochs", "lr", "batch_size", "weight_decay", "warmup_ratio", "max_grad_norm", "freeze_epochs",
    "layer_lr_decay", "dtype", "patience", "dropout", "hidden", "head", "layers", "layer_start", "max_length", "lora",
    "train_layers", "delta", "max_train", "seed", "resume", "cache_dir", "no_cache", "device", "checkpoint_every", "progress",
)


def _check(checks: list[tuple[bool, str, str]]) -> None:
    """Raise a ParameterError for the first ``(ok, parameter, message)`` that is not ok."""
    for ok, param, message in checks:
        if not ok:
            raise ParameterError(param, message)


@dataclass
class ClassifyData:
    """The training data: ``train`` and a ``dev`` file, or a seeded stratified ``dev_split``."""

    train: str
    dev: str | None = None
    dev_split: float | None = None  # default 0.1 when no dev file
    text_column: str = "text"
    pair_column: str | None = None
    label_column: str = "label"
    label_names: str | None = None  # "0=negative,1=positive": rename raw labels
    max_train: int | None = None  # seeded random subsample of the training rows

    def __post_init__(self) -> None:
        if self.dev is not None and self.dev_split is not None:
            raise ParameterError("dev", "give either dev (a file) or dev_split (a fraction), not both", "dev_split")
        if self.dev is None and self.dev_split is None:
            self.dev_split = 0.1
        _check([(self.max_train is None or self.max_train >= 2, "max_train", f"max_train must be >= 2, got {self.max_train}")])
        if self.label_names is not None:
            parse_label_names(self.label_names)


@dataclass
class HeadOptions:
    """The model trained on the base encoder: how (``mode``), which pooling(s) over which
    layers, the head on top, LoRA adapters, and the encoder's maximum length."""

    mode: str = "finetune"
    pooling: str = "mean"  # a registry spec ("mean", "mean+max") or "all"
    layers: str = "-1"
    layer_start: int | None = None
    head: str = "linear"  # linear | mlp (hidden, default 256) | bilstm | cnn (features mode: networks over cached token states)
    hidden: int = 0  # head MLP hidden size (0: linear)
    dropout: float = 0.1
    lora: int = 0  # LoRA rank (0: full fine-tuning)
    train_layers: int | None = None  # full fine-tuning of the top N encoder layers only (None: the whole encoder)
    delta: str | None = None  # store the encoder as "fp16" or "int8" deltas against the packaged base (None: whole)
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise choice_error("mode", self.mode, MODES)
        _check([
            (0 <= self.dropout < 1, "dropout", f"dropout must be in [0, 1), got {self.dropout}"),
            (self.lora >= 0, "lora", f"lora must be >= 0, got {self.lora}"),
            (self.train_layers is None or self.train_layers >= 0, "train_layers", f"train_layers must be >= 0, got {self.train_layers}"),
        ])
        self._check_encoder_storage()
        self._check_head()

    def _check_encoder_storage(self) -> None:
        from bertkit.encoder.delta import DELTA_DTYPES

        if self.delta is not None and self.delta not in DELTA_DTYPES:
            raise choice_error("delta", self.delta, DELTA_DTYPES)
        for name in ("train_layers", "delta"):
            if getattr(self, name) is None:
                continue
            if self.mode != "finetune":
                raise ParameterError(name, f"{name} applies to mode finetune only, not {self.mode}")
            if self.lora:
                raise ParameterError(name, f"{name} is for full fine-tuning; LoRA stores only its adapters", "lora")

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


class RunOptions(TrainArgs):
    """How to train: the shared :class:`~bertkit.training.args.TrainArgs` (``None``: the
    mode's default, see :meth:`for_head`) and the feature cache of mode features."""

    cache_dir: str | None = None  # features mode: the feature cache (None: the default one)
    no_cache: bool = False

    def for_head(self, head: HeadOptions) -> RunOptions:
        """A copy with the defaults of ``head.mode`` filled in, checked against ``head``."""
        finetune = head.mode == "finetune"
        if not finetune and (head.lora or self.freeze_epochs or self.layer_lr_decay != 1.0):
            raise ParameterError("mode", "lora, freeze_epochs and layer_lr_decay apply to mode finetune only",
                                 "lora", "freeze_epochs", "layer_lr_decay")
        lr = (5e-4 if head.lora else 3e-5) if finetune else 1e-3
        return self.with_defaults(epochs=3 if finetune else 30, lr=lr, batch_size=32 if finetune else 128, patience=2)

    def train_config(self, **task) -> TrainConfig:
        """The Trainer's config for these settings; ``task`` adds or overrides fields
        (``metric``, ``num_layers``, ``resume_args``). Call on a :meth:`for_head` copy."""
        if self.epochs is None or self.lr is None:
            raise UsageError("RunOptions.train_config needs epochs and lr: call for_head(head) first")
        # the checkpoint outlives the run: it goes with the old directory once the new one is swapped in
        return TrainConfig(**{**self.trainer_fields(), "keep_checkpoint": True, **task})


def flat_args(data: ClassifyData, head: HeadOptions, run: RunOptions, *, out: str, model: str | None) -> dict:
    """Every option as one flat dict in :data:`FLAT_ORDER`: what a model directory's ``training``
    record and a checkpoint's resume arguments hold."""
    values = {**asdict(data), **asdict(head), **run.model_dump(), "out": out, "model": model}
    return {key: values[key] for key in FLAT_ORDER}


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
    """Each option's ``bertkit classify train`` flag (``max_train`` -> ``--max-train``)."""
    return {name: "--" + name.replace("_", "-") for name in FLAT_ORDER}
