"""Save and load reranker directories; read sentence-transformers ``CrossEncoder`` directories.

A bertkit reranker directory is a model directory (:mod:`bertkit.modeldir`, task
``rerank``) holding::

    head.safetensors           the one-logit pooling head
    adapter/delta.safetensors  the fine-tuned encoder layers as deltas against the packaged
                               all-MiniLM-L6-v2 (encoder source "default", adapter "delta"), or
    encoder/                   a whole Hugging Face encoder (source "included")
    history.json, training_curves.png

A directory saved by ``sentence_transformers.CrossEncoder(...).save(dir)`` (a Hugging Face
``*ForSequenceClassification`` directory with one label) loads too: the bare encoder
through the usual loader, its ``classifier`` layer as the head over the model's pooler
(BERT-family: ``pooler -> dropout -> classifier``), and its saved activation
(``Sigmoid`` by default for one label, as ``CrossEncoder`` does).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from bertkit.classification.config import EncoderSpec
from bertkit.classification.model import HeadSpec, PoolingHead
from bertkit.classification.modeldir import load_encoder
from bertkit.encoder.delta import save_deltas, weight_deltas
from bertkit.encoder.encoder import Encoder
from bertkit.encoder.loading import load_model
from bertkit.errors import ModelLoadError
from bertkit.modeldir import CONFIG_FILE, default_model_dir, finish_writing, start_writing
from bertkit.rerank.config import RerankConfig, read_config
from bertkit.rerank.model import build_head
from bertkit.training.checkpoint import save_weights

__all__ = ["HEAD_FILE", "DELTA_FILE", "save_reranker", "load_parts", "is_cross_encoder_dir", "resolve_dir"]

HEAD_FILE = "head.safetensors"
DELTA_FILE = "delta.safetensors"  # inside adapter/
_ACTIVATIONS = {"Sigmoid": "sigmoid", "Identity": "identity"}


def resolve_dir(path: str | os.PathLike | None) -> Path:
    """``None`` or ``"default"``: the shipped reranker; otherwise the directory given."""
    if path is None or str(path) == "default":
        return default_model_dir("rerank")
    return Path(path).expanduser()


def save_reranker(directory: str | os.PathLike, config: RerankConfig, head: PoolingHead, encoder: Encoder, *,
                  delta: str | None = None, base_state: dict | None = None) -> Path:
    """Write a reranker; with ``config.encoder.adapter == "delta"`` the encoder is stored as
    ``delta`` deltas against ``base_state`` (default: a fresh load of the packaged encoder)."""
    directory = start_writing(directory)
    save_weights(head, directory / HEAD_FILE)
    if config.encoder.adapter == "delta":
        if delta is None or config.encoder.base_sha256 is None:
            raise ValueError("delta storage needs the delta dtype and the base's sha256")
        base = base_state if base_state is not None else load_model(None).model.state_dict()
        (directory / "adapter").mkdir(parents=True, exist_ok=True)
        save_deltas(directory / "adapter" / DELTA_FILE, weight_deltas(base, encoder.model.state_dict()), delta, config.encoder.base_sha256)
    elif config.encoder.source == "included":
        encoder.model.save_pretrained(str(directory / "encoder"), safe_serialization=True)
        encoder.tokenizer.save_pretrained(str(directory / "encoder"))
    finish_writing(directory, config)
    return directory


def is_cross_encoder_dir(directory: Path) -> bool:
    """A Hugging Face sequence-classification directory without a bertkit config."""
    if (directory / CONFIG_FILE).exists() or not (directory / "config.json").is_file():
        return False
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(str(a).endswith("ForSequenceClassification") for a in config.get("architectures") or [])


def load_parts(directory: Path, *, device: str, dtype: str) -> tuple[RerankConfig, Encoder, PoolingHead]:
    """(config, encoder, head) of a bertkit reranker or a sentence-transformers CrossEncoder directory."""
    if is_cross_encoder_dir(directory):
        return _load_cross_encoder(directory, device=device, dtype=dtype)
    if not directory.exists():
        raise ModelLoadError(f"{directory}: no such reranker directory")
    config = read_config(directory)
    encoder = load_encoder(directory, config.encoder, config, device=device, dtype=dtype)
    head = build_head(config.head, encoder)
    _load_state(head, directory / HEAD_FILE, directory)
    return config, encoder, head.to(encoder.device).eval()


def _load_state(head: PoolingHead, path: Path, directory: Path) -> None:
    try:
        head.load_state_dict(load_file(str(path)))
    except (RuntimeError, OSError) as exc:
        raise ModelLoadError(f"{directory}/{path.name} does not match the config ({str(exc).splitlines()[0][:160]})") from None


def _json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelLoadError(f"{path}: malformed JSON ({exc})") from None
    return value if isinstance(value, dict) else {}


def _activation(directory: Path, hf: dict) -> str:
    """The CrossEncoder's saved activation (v4+ and older keys); none saved: sigmoid (one label)."""
    path = _json(directory / "config_sentence_transformers.json").get("activation_fn")
    path = path or (hf.get("sentence_transformers") or {}).get("activation_fn") or hf.get("sbert_ce_default_activation_function")
    if not path:
        return "sigmoid"
    name = str(path).rsplit(".", 1)[-1]
    if name not in _ACTIVATIONS:
        raise ModelLoadError(f"{directory}: activation {path!r} is not supported; valid: torch.nn.Sigmoid, torch.nn.Identity")
    return _ACTIVATIONS[name]


def _classifier_weights(directory: Path) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for file in sorted(directory.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                if key in ("classifier.weight", "classifier.bias"):
                    found[key.split(".", 1)[1]] = handle.get_tensor(key)
    return found


def _load_cross_encoder(directory: Path, *, device: str, dtype: str) -> tuple[RerankConfig, Encoder, PoolingHead]:
    hf = _json(directory / "config.json")
    labels = hf.get("id2label") or {}
    if hf.get("num_labels", len(labels) or 1) != 1 and len(labels) != 1:
        raise ModelLoadError(f"{directory}: a reranker has one output; this model has {len(labels)} labels")
    weights = _classifier_weights(directory)
    if set(weights) != {"weight", "bias"} or tuple(weights["weight"].shape)[0] != 1:
        raise ModelLoadError(f"{directory}: no one-output 'classifier' layer in its weights (a BERT-family CrossEncoder is expected)")
    max_length = _json(directory / "sentence_bert_config.json").get("max_seq_length")
    encoder = Encoder(directory, device=device, dtype=dtype, max_length=max_length if isinstance(max_length, int) else None)
    if not encoder.has_pooler:
        raise ModelLoadError(f"{directory}: its classification head reads the pooler, which this checkpoint lacks "
                             f"({hf.get('model_type')!r}); BERT-family CrossEncoders are supported")
    spec = HeadSpec(pooling="pooler", dropout=0.0)
    head = build_head(spec, encoder)
    head.classifier.load_state_dict(weights)
    config = RerankConfig(max_length=encoder.max_length, head=spec, encoder=EncoderSpec("included"), activation=_activation(directory, hf),
                          training={"source": "sentence-transformers CrossEncoder"})
    return config, encoder, head.to(encoder.device).eval()
