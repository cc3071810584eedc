"""Fuse an exported graph with ONNX Runtime's transformer optimiser, only where it is known to apply.

ONNX Runtime's optimiser (``onnxruntime.transformers.optimizer``, model type ``bert``)
rewrites the patterns of BERT-like encoders into fused ``Attention``,
``SkipLayerNormalization`` and ``Gelu`` ops. It matches graph patterns, so on a model it
was not written for it may fuse half a layer, or fuse something that computes another
function. Hence two guards:

- it runs only for the model types it was built for (:data:`FUSABLE`): BERT,
  DistilBERT, RoBERTa (and XLM-R, CamemBERT), ELECTRA and ALBERT. DeBERTa-v2 (relative
  attention), ModernBERT (rotary positions, GeGLU, local attention) and any other type
  keep the plain graph (ONNX Runtime's generic optimisations still apply at load);
- the fused graph must give the plain graph's outputs on a check batch (longer than
  the traced one, with padding): otherwise the plain graph is kept.

Either way :class:`Fusion` says what happened, in one line (``ExportInfo.fusion``).
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FUSABLE", "FUSION_TOLERANCE", "Fusion", "check_inputs", "fuse_graph"]

# model types onnxruntime's BertOnnxModel optimiser handles (model_type "bert" there)
FUSABLE = frozenset({"bert", "distilbert", "roberta", "xlm-roberta", "camembert", "electra", "albert"})
FUSION_TOLERANCE = 1e-4  # max |fused - plain|, relative to the outputs' scale (at least 1)
_FUSED_OPS = ("Attention", "MultiHeadAttention", "SkipLayerNormalization", "EmbedLayerNormalization", "Gelu", "BiasGelu", "FastGelu")


@dataclass(frozen=True)
class Fusion:
    """Whether the graph was fused, and why (or why not), in one line."""

    fused: bool
    reason: str
    notice: bool = True  # worth telling the user (a model left unfused by type, or a fusion refused)


def check_inputs(input_names: list[str], config, length: int = 40) -> dict[str, np.ndarray]:
    """A padded batch of 3 random rows (lengths ``length``, ``length - 7``, 3) valid for ``config``. # (3, T) each"""
    rng = np.random.default_rng(0)
    vocab = int(getattr(config, "vocab_size", 0) or 1000)
    limit = int(getattr(config, "max_position_embeddings", 0) or 512) - 2  # RoBERTa offsets positions by 2
    length = max(4, min(length, limit))
    lengths = np.array([length, max(1, length - 7), min(3, length)])
    mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int64)  # (3, T)
    ids = rng.integers(min(5, vocab - 1), vocab, size=(3, length)).astype(np.int64) * mask  # (3, T)
    types = np.zeros_like(ids)
    if int(getattr(config, "type_vocab_size", 0) or 0) >= 2:
        types[:, length // 2:] = 1
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types * mask}
    return {n: values[n] for n in input_names}


def _run(path: Path, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v for k, v in feed.items() if k in names})


def _max_diff(plain: list[np.ndarray], fused: list[np.ndarray]) -> float:
    """The largest |fused - plain| over every output, relative to the outputs' scale (at least 1)."""
    worst = 0.0
    for a, b in zip(plain, fused):
        if a.shape != b.shape:
            return float("inf")
        scale = max(1.0, float(np.abs(a).max(initial=0.0)))
        worst = max(worst, float(np.abs(a.astype(np.float64) - b).max(initial=0.0)) / scale)
    return worst


def fuse_graph(raw: Path, path: Path, config, input_names: list[str]) -> Fusion:
    """Write the fused graph of ``raw`` to ``path`` where safe, else ``raw`` itself; say which."""
    model_type = getattr(config, "model_type", None) if config is not None else None
    if model_type not in FUSABLE:
        shutil.copyfile(raw, path)
        what = f"model type {model_type!r}" if model_type else "a graph without a transformers model"
        reason = f"not fused: onnxruntime's transformer optimiser has no patterns for {what}; the plain graph runs"
        return Fusion(False, reason, notice=bool(model_type))
    try:
        from onnxruntime.transformers import optimizer

        opt = optimizer.optimize_model(
            str(raw), model_type="bert", num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
            hidden_size=int(getattr(config, "hidden_size", 0) or 0), opt_level=1,
        )
        opt.save_model_to_file(str(path))
        ops = Counter(node.op_type for node in opt.model.graph.node)
    except Exception as exc:  # noqa: BLE001 - the optimiser is best effort; the plain graph is correct
        shutil.copyfile(raw, path)
        return Fusion(False, f"not fused: onnxruntime's optimiser failed on {model_type} ({type(exc).__name__}); the plain graph runs")
    feed = check_inputs(input_names, config)
    diff = _max_diff(_run(raw, feed), _run(path, feed))
    if not diff <= FUSION_TOLERANCE:
        shutil.copyfile(raw, path)
        return Fusion(False, f"not fused: the fused {model_type} graph differs from the plain one by {diff:.2g} (> {FUSION_TOLERANCE}); the plain graph runs")
    fused = ", ".join(f"{op} x{ops[op]}" for op in _FUSED_OPS if ops.get(op))
    return Fusion(bool(fused), notice=False, reason=f"fused ({fused or 'no fusable pattern found'}; within {diff:.1g} of the plain graph)")
