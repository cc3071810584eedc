"""The model directory's JSON config: typed dataclasses; loading rejects unknown keys."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bertkit.classification.model import HeadSpec
from bertkit.errors import ModelLoadError

__all__ = ["CONFIG_FILE", "FORMAT", "EncoderSpec", "ClassifierConfig", "read_config", "from_dict"]

CONFIG_FILE = "bertkit_classifier.json"
FORMAT = "bertkit-classifier"
ENCODER_SOURCES = ("included", "default", "parent", "members")


@dataclass
class EncoderSpec:
    """Where the encoder comes from.

    ``included``: ``encoder/`` in this directory (Hugging Face format) · ``default``: the
    packaged all-MiniLM-L6-v2, whose weights must hash to ``base_sha256`` · ``parent``:
    the enclosing ensemble's encoder · ``members``: an ensemble whose members each carry
    their own encoder. ``adapter="lora"``: LoRA adapters in ``adapter/``
    (peft format) are applied on top.
    """

    source: str = "included"
    base_sha256: str | None = None
    adapter: str | None = None


@dataclass
class ClassifierConfig:
    labels: list[str]
    max_length: int
    kind: str = "single"  # single | ensemble
    mode: str = "finetune"  # finetune | features | ensemble
    pairs: bool = False  # trained on sentence pairs
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    head: HeadSpec | None = None  # single models
    members: list[str] = field(default_factory=list)  # ensembles: member subdirectories
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    format: str = FORMAT
    version: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False)


def from_dict(cls, data: dict, where: str):
    """Build dataclass ``cls`` from ``data``, refusing unknown or missing keys."""
    if not isinstance(data, dict):
        raise ModelLoadError(f"{where}: expected a JSON object for {cls.__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ModelLoadError(f"{where}: unknown key {unknown[0]!r} in {cls.__name__}; valid keys: {', '.join(fields)}")
    kwargs = dict(data)
    for name, nested in (("encoder", EncoderSpec), ("head", HeadSpec)):
        if name in fields and kwargs.get(name) is not None:
            kwargs[name] = from_dict(nested, kwargs[name], where)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ModelLoadError(f"{where}: {exc}") from None


def read_config(directory: Path) -> ClassifierConfig:
    path = directory / CONFIG_FILE
    if not directory.is_dir():
        raise ModelLoadError(f"classifier directory {directory} does not exist")
    if not path.is_file():
        raise ModelLoadError(
            f"{directory} is not a bertkit classifier directory (no {CONFIG_FILE}); train one with: bertkit classify train"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from None
    config = from_dict(ClassifierConfig, data, str(path))
    if config.format != FORMAT:
        raise ModelLoadError(f"{path}: format {config.format!r} is not {FORMAT!r}")
    if config.kind not in ("single", "ensemble"):
        raise ModelLoadError(f"{path}: kind {config.kind!r} must be single or ensemble")
    if config.encoder.source not in ENCODER_SOURCES:
        raise ModelLoadError(f"{path}: encoder source {config.encoder.source!r}; valid: {', '.join(ENCODER_SOURCES)}")
    if config.kind == "single" and config.head is None:
        raise ModelLoadError(f"{path}: a single model needs a 'head'")
    if config.kind == "ensemble" and not config.members:
        raise ModelLoadError(f"{path}: an ensemble needs 'members'")
    if len(config.labels) < 2:
        raise ModelLoadError(f"{path}: needs at least two labels")
    return config
