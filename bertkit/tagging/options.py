"""Training options for ``bertkit tag train`` (and the library's ``train_tagger``): the shared
:class:`~bertkit.training.args.TrainArgs` with the tagger's data and model fields.

``None`` for ``head``, ``epochs``, ``lr``, ``batch_size``, ``dropout`` and ``patience``
takes the mode's default; any value given is used as it is (``dropout=0`` is no dropout,
``epochs=0`` is refused), checked by pydantic with the field named.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from bertkit.errors import choice_error
from bertkit.nn.layermix import LAYER_COMBINES
from bertkit.nn.subwords import SUBWORD_RULES
from bertkit.tagging.model import HEADS, MODES
from bertkit.training.args import TrainArgs

__all__ = ["TagTrainOptions"]

_DEFAULTS = {  # mode -> head, epochs, lr, batch size, dropout, patience (0: off)
    "features": ("bilstm-crf", 20, 1e-3, 32, 0.5, 5),
    "finetune": ("linear", 3, 5e-5, 16, 0.1, 0),
}


class TagTrainOptions(TrainArgs):
    train: str
    out: str
    dev: str | None = None  # default: a seeded 10% of --train
    mode: Literal[MODES] = "features"  # type: ignore[valid-type]
    head: Literal[HEADS] | None = None  # type: ignore[valid-type]  # features: bilstm-crf; finetune: linear
    model: str | None = None  # base encoder directory (None: packaged all-MiniLM-L6-v2)
    layers: str = "-1"
    layer_combine: Literal[LAYER_COMBINES] = "mean"  # type: ignore[valid-type]
    subword: Literal[SUBWORD_RULES] = "first"  # type: ignore[valid-type]
    dropout: float | None = Field(None, ge=0, lt=1)
    lstm_hidden: int = Field(256, ge=1)
    max_length: int | None = Field(None, ge=1)
    max_train: int | None = Field(None, ge=1)  # seeded random subsample of training sentences
    cache_dir: str | None = None
    no_cache: bool = False

    def __init__(self, **data: Any) -> None:
        mode = data.get("mode", "features")
        if mode not in MODES:
            raise choice_error("mode", mode, MODES)
        names = ("head", "epochs", "lr", "batch_size", "dropout", "patience")
        for name, default in zip(names, _DEFAULTS[mode]):
            if data.get(name) is None:
                data[name] = default
        super().__init__(**data)

    @model_validator(mode="after")
    def _finetune_only(self):
        if self.mode == "features" and (self.freeze_epochs or self.layer_lr_decay != 1.0):
            raise ValueError("freeze_epochs: --freeze-epochs and --layer-lr-decay apply to --mode finetune only")
        return self
