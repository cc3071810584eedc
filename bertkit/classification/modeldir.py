"""Save and load classifier directories (single models and ensembles).

A classifier directory is a bertkit model directory (:mod:`bertkit.modeldir`: typed
``bertkit.json`` of task ``classifier``, ``manifest.json`` with the sha256 of every
file, the config included) holding::

    head.safetensors          pooling + classifier weights (single models)
    encoder/                  the encoder in Hugging Face format + tokenizer (source "included")
    adapter/                  LoRA adapters, peft format (adapter "lora"), or
    adapter/delta.safetensors fine-tuned weights as fp16/int8/int4 deltas against the packaged
                              base encoder (adapter "delta", :mod:`bertkit.encoder.delta`)
    members/<name>/           ensemble members, each a complete single-model directory
    history.json, training_curves.png

Loading verifies the manifest, so an incomplete or altered directory (a flipped bit, two
swapped labels) is refused with a one-line message; nothing is unpickled. Ensemble
members must lie inside the ensemble's directory and are verified like any directory.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from safetensors.torch import load_file

from bertkit.classification.config import ClassifierConfig, EncoderSpec, read_config
from bertkit.classification.lora import load_lora, save_lora
from bertkit.classification.model import HeadSpec, PoolingHead
from bertkit.encoder.delta import apply_deltas, load_deltas, save_deltas, weight_deltas
from bertkit.encoder.encoder import Encoder
from bertkit.encoder.fingerprint import check_base, weights_sha256
from bertkit.encoder.loading import load_model
from bertkit.encoder.taskheads import SequenceLogits, hf_labels
from bertkit.errors import ModelLoadError
from bertkit.modeldir import default_model_dir, finish_writing, member_dir, start_writing
from bertkit.training.checkpoint import save_weights

__all__ = ["HEAD_FILE", "default_encoder_sha256", "save_single", "copy_encoder_dir", "write_config", "read_verified", "read_members",
           "is_default_encoder", "load_encoder", "load_head", "load_hf_classifier"]

HEAD_FILE = "head.safetensors"
DELTA_FILE = "delta.safetensors"  # inside adapter/
_ENCODER_SUFFIXES = (".safetensors", ".json", ".txt")


def default_encoder_sha256() -> str:
    """The packaged all-MiniLM-L6-v2's weights sha256 (what ``source: default`` directories name)."""
    return weights_sha256(default_model_dir())


def is_default_encoder(path: Path) -> bool:
    try:
        return Path(path).resolve() == default_model_dir().resolve()
    except ModelLoadError:
        return False


def save_single(
    directory: str | os.PathLike,
    config: ClassifierConfig,
    head: PoolingHead,
    encoder: Encoder | None,
    *,
    peft_model=None,
    delta: str | None = None,
    base_state: dict | None = None,
) -> Path:
    """Write a single model. ``config.encoder.source`` decides what of the encoder is stored;
    deltas are taken against ``base_state`` (default: a fresh load of the packaged encoder)."""
    directory = start_writing(directory)  # the directory is invalid until the manifest is back
    save_weights(head, directory / HEAD_FILE)
    if config.encoder.source == "included":
        if encoder is None:
            raise ValueError("an included encoder needs the encoder")
        if peft_model is not None or config.mode == "features":
            copy_encoder_dir(encoder.path, directory / "encoder")  # unchanged base
        else:
            encoder.model.save_pretrained(str(directory / "encoder"), safe_serialization=True)
            encoder.tokenizer.save_pretrained(str(directory / "encoder"))
    if config.encoder.adapter == "lora":
        save_lora(peft_model, directory / "adapter")
    if config.encoder.adapter == "delta":
        if encoder is None or delta is None or config.encoder.base_sha256 is None:
            raise ValueError("delta storage needs the encoder, the delta dtype and the base's sha256")
        _save_delta(directory / "adapter", encoder, delta, config.encoder.base_sha256, base_state)
    write_config(directory, config)
    return directory


def _save_delta(directory: Path, encoder: Encoder, dtype: str, base_sha256: str, base: dict | None) -> None:
    """What fine-tuning changed in ``encoder``, against ``base`` (None: a fresh load of the packaged base)."""
    base = base if base is not None else load_model(None).model.state_dict()
    directory.mkdir(parents=True, exist_ok=True)
    save_deltas(directory / DELTA_FILE, weight_deltas(base, encoder.model.state_dict()), dtype, base_sha256)


def copy_encoder_dir(source: Path, target: Path) -> None:
    """Copy an unchanged Hugging Face directory's config, weights and tokenizer files."""
    target.mkdir(parents=True, exist_ok=True)
    for path in Path(source).iterdir():
        if path.is_file() and path.suffix in _ENCODER_SUFFIXES:
            shutil.copyfile(path, target / path.name)


def write_config(directory: Path, config: ClassifierConfig) -> None:
    """Write the config, then the manifest over every file below ``directory`` (last)."""
    finish_writing(directory, config)


def load_encoder(directory: Path, spec: EncoderSpec, config: ClassifierConfig, *, device: str, dtype: str, parent: Encoder | None = None) -> Encoder:
    if spec.source == "members":
        raise ModelLoadError(f"{directory}: encoder source 'members' is for ensembles only")
    if spec.source == "parent":
        if parent is None:
            raise ModelLoadError(f"{directory}: encoder source 'parent' outside an ensemble")
        return parent
    if spec.source == "default":
        if spec.base_sha256 is not None:  # directories of bertkit 0.1 may not name it
            check_base(directory, spec.base_sha256, default_model_dir(), "the installed all-MiniLM-L6-v2")
        encoder = Encoder(None, device=device, dtype=dtype, max_length=config.max_length)
    else:
        if not (directory / "encoder" / "config.json").is_file():
            raise ModelLoadError(f"{directory}: incomplete model directory, encoder/ is missing")
        encoder = Encoder(directory / "encoder", device=device, dtype=dtype, max_length=config.max_length)
    if spec.adapter == "lora":
        load_lora(encoder, directory / "adapter")
    elif spec.adapter == "delta":
        if spec.source != "default":
            raise ModelLoadError(f"{directory}: adapter 'delta' applies to the packaged base encoder (source 'default')")
        apply_deltas(encoder.model, load_deltas(directory / "adapter" / DELTA_FILE, spec.base_sha256), str(directory))
    elif spec.adapter is not None:
        raise ModelLoadError(f"{directory}: unknown adapter {spec.adapter!r}; valid: lora, delta")
    encoder.model.eval()
    return encoder


def load_head(directory: Path, config: ClassifierConfig, encoder: Encoder) -> PoolingHead:
    head = PoolingHead(config.head, encoder.hidden_size, encoder.num_layers, len(config.labels))
    try:
        head.load_state_dict(load_file(str(directory / HEAD_FILE)))
    except (RuntimeError, OSError) as exc:
        raise ModelLoadError(f"{directory}/{HEAD_FILE} does not match the config ({str(exc).splitlines()[0][:160]})") from None
    return head.to(encoder.device).eval()


def read_verified(directory: Path) -> ClassifierConfig:
    """The config of a verified classifier directory (manifest, types, members' paths)."""
    return read_config(Path(directory))


def read_members(directory: Path, config: ClassifierConfig) -> list[tuple[str, Path, ClassifierConfig]]:
    """An ensemble's members as (name, directory, config), each inside ``directory`` and
    verified like any model directory; they must be single models with the ensemble's labels."""
    members = []
    for member in config.members:
        mdir = member_dir(Path(directory), member)
        mconfig = read_verified(mdir)
        if mconfig.kind != "single" or mconfig.labels != config.labels:
            raise ModelLoadError(f"{mdir}: ensemble members must be single models with the ensemble's labels")
        members.append((Path(member).name, mdir, mconfig))
    return members


def load_hf_classifier(path: Path, *, device: str, dtype: str) -> tuple[ClassifierConfig, list[tuple[Encoder, list]], list[str]]:
    """A transformers ``AutoModelForSequenceClassification`` directory as it is: (config, groups, names).

    Labels come from ``id2label``; ``problem_type: multi_label_classification`` heads are
    read through a sigmoid. The encoder runs through bertkit's one forward and the
    checkpoint's own head modules (:class:`bertkit.encoder.taskheads.SequenceLogits`).
    """
    encoder = Encoder(path, device=device, dtype=dtype, task="classifier")
    task_model = encoder.task_model
    head = SequenceLogits(task_model, str(path)).eval()
    if head.needs_pooler and not encoder.has_pooler:
        raise ModelLoadError(f"{path}: {type(task_model).__name__} classifies the pooler output, but the checkpoint has no pooler weights")
    labels = hf_labels(task_model.config, str(path))
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ModelLoadError(
            f"{path}/config.json: a classifier needs at least two distinct labels in 'id2label', got {labels} "
            "(num_labels 1 is a regression head, which bertkit does not serve)"
        )
    name = type(task_model).__name__
    config = ClassifierConfig(
        labels=labels, max_length=encoder.max_length, encoder=EncoderSpec("included"),
        head=HeadSpec(pooling="pooler" if head.needs_pooler else "cls", dropout=0.0),
        training={"source": "transformers", "architecture": name, "multi_label": head.multi_label},
    )
    return config, [(encoder, [head])], [name]
