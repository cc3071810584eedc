"""Shrink a fully fine-tuned classifier into deltas against the packaged encoder.

``bertkit classify train`` without ``--lora`` stores the whole fine-tuned encoder (90 MB
for MiniLM). When that encoder is the packaged all-MiniLM-L6-v2, trained further,
:func:`compact_classifier` rewrites the directory with only what changed
(``adapter/delta.safetensors``, see :mod:`bertkit.encoder.delta`): fp16, int8 or int4
deltas of every changed tensor, and only the trained rows of the embedding matrix. It is
the same storage ``--delta`` chooses at training time, for a model already trained.

Quantizing the deltas changes the model a little: evaluate the result (``bertkit classify
evaluate``) before shipping it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from bertkit.classification.config import EncoderSpec
from bertkit.modeldir import writing_model_dir
from bertkit.classification.modeldir import default_encoder_sha256, load_encoder, load_head, read_verified, save_single
from bertkit.encoder.delta import DELTA_DTYPES
from bertkit.encoder.encoder import Encoder
from bertkit.encoder.loading import load_model
from bertkit.errors import ParameterError, choice_error

__all__ = ["compact_classifier"]

_KEPT_FILES = ("history.json", "training_curves.png")


def _check_source(path: Path, config) -> None:
    what = f"kind {config.kind}, mode {config.mode}, encoder {config.encoder.source}" + (
        f" + {config.encoder.adapter}" if config.encoder.adapter else "")
    if config.kind != "single" or config.mode != "finetune" or config.encoder.source != "included" or config.encoder.adapter:
        raise ParameterError("model", f"{path}: compacting needs a single, fully fine-tuned classifier with its own encoder/ ({what})")


def _packaged_base_for(path: Path, encoder: Encoder) -> dict:
    """The packaged MiniLM's weights, once ``encoder`` is checked to be that architecture and vocabulary."""
    base = load_model(None)
    state = base.model.state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    if shapes != {k: tuple(v.shape) for k, v in encoder.model.state_dict().items()} or base.tokenizer.get_vocab() != encoder.tokenizer.get_vocab():
        raise ParameterError("model", f"{path}: its encoder is not a fine-tuned all-MiniLM-L6-v2 (other tensors or vocabulary); "
                                      "deltas are stored against the packaged encoder only")
    return state


def compact_classifier(model: str | os.PathLike, out: str | os.PathLike, delta: str = "int8") -> Path:
    """Write ``model`` (a fully fine-tuned classifier on the packaged encoder) to ``out`` with
    its encoder stored as ``delta`` (fp16, int8, int4) deltas against the packaged one."""
    if delta not in DELTA_DTYPES:
        raise choice_error("delta", delta, DELTA_DTYPES)
    src, out = Path(model).expanduser(), Path(out).expanduser()
    config = read_verified(src)
    _check_source(src, config)
    if out.exists() and any(out.iterdir()):
        raise ParameterError("out", f"{out} exists and is not empty; give a new directory")
    encoder = load_encoder(src, config.encoder, config, device="cpu", dtype="fp32")
    base_state = _packaged_base_for(src, encoder)
    head = load_head(src, config, encoder)
    compacted = replace(config, encoder=EncoderSpec("default", default_encoder_sha256(), adapter="delta"),
                        training={**config.training, "delta": delta, "compacted_from": str(src)})
    with writing_model_dir(out) as stage:  # built beside out, swapped in whole
        for name in _KEPT_FILES:
            if (src / name).is_file():
                shutil.copyfile(src / name, stage / name)
        save_single(stage, compacted, head, encoder, delta=delta, base_state=base_state)
    return out
