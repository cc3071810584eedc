"""A QA model directory: typed JSON config, the weights that differ from the base, a manifest.

::

    qa_config.json          QAConfig (loading rejects unknown keys)
    qa_weights.safetensors  the span head + every encoder tensor training changed
                            (all of them, or only the top ``train_layers`` layers)
    manifest.json           format tag and the SHA-256 of both files

The base encoder is named in the config (``default`` = the packaged all-MiniLM-L6-v2),
so a model that trained only its top layers is small enough to ship in the package.
Files are written atomically and the manifest last: a directory without a manifest, with
a file whose hash differs, or whose tensors do not match the config is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from bertkit.encoder.encoder import Encoder
from bertkit.errors import ModelLoadError
from bertkit.io.atomic import atomic_path, atomic_write_text
from bertkit.io.files import sha256_file
from bertkit.qa.model import QAModel

__all__ = ["QAConfig", "CONFIG_FILE", "WEIGHTS_FILE", "MANIFEST_FILE", "FORMAT", "packaged_model_dir", "save_qa_model", "load_qa_model", "load_weights_into", "read_config"]

CONFIG_FILE = "qa_config.json"
WEIGHTS_FILE = "qa_weights.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT = "bertkit-qa/1"
WEIGHT_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class QAConfig:
    base_model: str = "default"  # "default" (packaged all-MiniLM-L6-v2) or a model directory
    max_length: int = 384
    doc_stride: int = 128
    max_question_length: int = 64
    max_answer_length: int = 30
    null_threshold: float = 0.0  # predict "no answer" when null score - best span score > this
    version_2: bool = False  # trained with unanswerable questions (can say "no answer")
    train_layers: int | None = None  # top encoder layers trained (None: the whole encoder)
    weights_dtype: str = "fp32"  # how qa_weights.safetensors stores the tensors
    training: dict = field(default_factory=dict)  # arguments and results of the training run (informational)

    @classmethod
    def from_dict(cls, data: object, where: str) -> "QAConfig":
        if not isinstance(data, dict):
            raise ModelLoadError(f"{where}: expected a JSON object")
        names = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise ModelLoadError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(names)}")
        config = cls(**data)
        if config.weights_dtype not in WEIGHT_DTYPES:
            raise ModelLoadError(f"{where}: weights_dtype {config.weights_dtype!r} is not one of {', '.join(WEIGHT_DTYPES)}")
        for name in ("max_length", "doc_stride", "max_question_length", "max_answer_length"):
            if not isinstance(getattr(config, name), int) or isinstance(getattr(config, name), bool):
                raise ModelLoadError(f"{where}: {name} must be an integer, got {getattr(config, name)!r}")
        return config


def packaged_model_dir() -> Path:
    """The shipped default QA model (``bertkit/models/qa``)."""
    return Path(__file__).resolve().parents[1] / "models" / "qa"


def _base_for_encoder(base_model: str) -> str | None:
    return None if base_model == "default" else base_model


def save_qa_model(model: QAModel, config: QAConfig, out_dir: str | os.PathLike) -> Path:
    """Write config, the trained tensors (in ``config.weights_dtype``) and the manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_FILE).unlink(missing_ok=True)  # incomplete until the manifest is back
    dtype = WEIGHT_DTYPES[config.weights_dtype]
    params = dict(model.named_parameters())
    tensors = {n: params[n].detach().to("cpu", dtype).contiguous() for n in model.trainable_names(config.train_layers)}
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    atomic_write_text(out / CONFIG_FILE, json.dumps(asdict(config), indent=2) + "\n")
    manifest = {"format": FORMAT, "files": {name: sha256_file(out / name) for name in (CONFIG_FILE, WEIGHTS_FILE)}}
    atomic_write_text(out / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return out


def read_config(directory: str | os.PathLike | None) -> tuple[Path, QAConfig]:
    """Check the directory's manifest and hashes, and parse its config."""
    path = packaged_model_dir() if directory is None else Path(directory).expanduser()
    if not path.is_dir():
        what = "the packaged QA model" if directory is None else "QA model directory"
        raise ModelLoadError(f"{what} {path} does not exist; train one with: bertkit qa train --train FILE --out DIR")
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        present = [n for n in (CONFIG_FILE, WEIGHTS_FILE) if (path / n).is_file()]
        if not present:
            raise ModelLoadError(f"{path} is not a bertkit QA model directory (no {MANIFEST_FILE}, {CONFIG_FILE} or {WEIGHTS_FILE})")
        raise ModelLoadError(f"{path}: incomplete QA model directory (no {MANIFEST_FILE}; was saving interrupted?)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{manifest_path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise ModelLoadError(f"{manifest_path}: not a {FORMAT} manifest")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        file = path / name
        if not file.is_file():
            raise ModelLoadError(f"{path}: incomplete QA model directory ({name} is missing)")
        if manifest["files"].get(name) != sha256_file(file):
            raise ModelLoadError(f"{file} was altered after saving (its SHA-256 does not match {MANIFEST_FILE})")
    try:
        data = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path / CONFIG_FILE}: not valid JSON ({exc})") from None
    try:
        config = QAConfig.from_dict(data, str(path / CONFIG_FILE))
    except TypeError as exc:
        raise ModelLoadError(f"{path / CONFIG_FILE}: {exc}") from None
    return path, config


def load_qa_model(
    directory: str | os.PathLike | None = None, *, device: str = "auto", dtype: str = "fp32"
) -> tuple[QAModel, QAConfig]:
    """Load a QA model directory (None: the packaged default) onto ``device``."""
    path, config = read_config(directory)
    encoder = Encoder(_base_for_encoder(config.base_model), device=device, dtype=dtype, max_length=config.max_length)
    model = QAModel(encoder)
    load_weights_into(model, path, config)
    model.eval()
    return model, config


def load_weights_into(model: QAModel, path: Path, config: QAConfig) -> None:
    """Copy a checked directory's tensors (head + trained layers) into ``model``."""
    try:
        tensors = load_file(str(path / WEIGHTS_FILE))
    except (SafetensorError, OSError) as exc:
        raise ModelLoadError(f"{path / WEIGHTS_FILE}: not a readable safetensors file ({exc})") from None
    expected = set(model.trainable_names(config.train_layers))
    missing = sorted(expected - set(tensors))
    extra = sorted(set(tensors) - expected)
    if missing or extra:
        detail = f"lacks {missing[0]}" if missing else f"has an unexpected tensor {extra[0]}"
        raise ModelLoadError(f"{path / WEIGHTS_FILE} {detail}; it does not match {CONFIG_FILE} and its base model")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in tensors.items():
            if tuple(tensor.shape) != tuple(params[name].shape):
                raise ModelLoadError(
                    f"{path / WEIGHTS_FILE}: {name} has shape {tuple(tensor.shape)}, the base model expects {tuple(params[name].shape)}"
                )
            params[name].copy_(tensor.to(params[name].dtype))
