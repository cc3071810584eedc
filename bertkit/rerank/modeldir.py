"""Save reranker directories; build a reranker from what the one loader found.

A bertkit reranker directory is a model directory (:mod:`bertkit.modeldir`, task
``rerank``) holding::

    head.safetensors           the one-logit pooling head
    adapter/delta.safetensors  the fine-tuned encoder layers as deltas against the packaged
                               all-MiniLM-L6-v2 (encoder source "default", adapter "delta"), or
    encoder/                   a whole Hugging Face encoder (source "included")
    history.json, training_curves.png

Which directory a source is, is :func:`bertkit.engine.loader.resolve_source`'s call
(task ``reranker``). A transformers ``*ForSequenceClassification`` checkpoint with one
output, such as one saved by ``sentence_transformers.CrossEncoder(...).save(dir)``, is
loaded as the classifier loads transformers checkpoints (the whole task model, its bare
encoder through the one forward, the checkpoint's own head modules:
:class:`bertkit.encoder.taskheads.SequenceLogits`, so BERT, DistilBERT, RoBERTa / XLM-R,
ELECTRA, DeBERTa-v2 and ModernBERT cross-encoders all load), with the saved activation
(``Sigmoid`` by default for one label, as ``CrossEncoder`` does) and ``max_seq_length``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from bertkit.classification.config import EncoderSpec
from bertkit.classification.model import HeadSpec, PoolingHead
from bertkit.classification.modeldir import load_encoder
from bertkit.encoder.delta import save_deltas, weight_deltas
from bertkit.encoder.encoder import Encoder
from bertkit.encoder.loading import load_model
from bertkit.encoder.taskheads import SequenceLogits
from bertkit.engine.loader import ModelSource
from bertkit.errors import ModelLoadError
from bertkit.modeldir import finish_writing, start_writing
from bertkit.rerank.config import RerankConfig, read_config
from bertkit.rerank.model import build_head
from bertkit.training.checkpoint import save_weights

__all__ = ["HEAD_FILE", "DELTA_FILE", "save_reranker", "load_parts"]

HEAD_FILE = "head.safetensors"
DELTA_FILE = "delta.safetensors"  # inside adapter/
_ACTIVATIONS = {"Sigmoid": "sigmoid", "Identity": "identity"}


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


def load_parts(source: ModelSource, *, device: str, dtype: str) -> tuple[RerankConfig, Encoder, nn.Module]:
    """(config, encoder, head) of what the loader resolved: a bertkit reranker or a
    transformers cross-encoder checkpoint (a sentence-transformers CrossEncoder)."""
    directory = source.path
    if source.format == "hf-task":
        return _load_cross_encoder(source, device=device, dtype=dtype)
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


def _load_cross_encoder(source: ModelSource, *, device: str, dtype: str) -> tuple[RerankConfig, Encoder, SequenceLogits]:
    directory = source.path
    hf = _json(directory / "config.json")
    activation = _activation(directory, hf)  # checked before the weights are read
    max_length = _json(directory / "sentence_bert_config.json").get("max_seq_length")
    encoder = Encoder(directory, device=device, dtype=dtype, task="classifier",
                      max_length=max_length if isinstance(max_length, int) else None)
    outputs = int(encoder.task_model.config.num_labels)
    if outputs != 1:
        raise ModelLoadError(f"{directory}: a reranker has one output; this model has {outputs} labels "
                             "(load it as a classifier of pairs: bertkit.Classifier.load)")
    head = SequenceLogits(encoder.task_model, str(directory)).eval()
    if head.needs_pooler and not encoder.has_pooler:
        raise ModelLoadError(f"{directory}: {source.architecture} scores the pooler output, but the checkpoint has no pooler weights")
    spec = HeadSpec(pooling="pooler" if head.needs_pooler else "cls", dropout=0.0)
    origin = "sentence-transformers CrossEncoder" if source.cross_encoder else "transformers"
    config = RerankConfig(max_length=encoder.max_length, head=spec, encoder=EncoderSpec("included"), activation=activation,
                          training={"source": origin, "architecture": source.architecture})
    return config, encoder, head
