"""Embeddings on the engine: the embedding graph, its ONNX export and the int8 gate.

The graph is the engine's :class:`EncoderGraph` (the one model forward) with an
:class:`EmbeddingHead` (layer selection + pooling -> a float32 vector), so torch and
ONNX run the same code. Classification and QA have the same pair of modules
(``classification/engine.py``, ``qa/engine.py``); the engine itself imports no task.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from bertkit.embeddings.layers import LayerSelection
from bertkit.embeddings.pooling import Pooling, PoolingInput
from bertkit.encoder.encoder import Encoder, EncoderOutput
from bertkit.engine.backends import OnnxBackend, TorchBackend
from bertkit.engine.graph import EncoderGraph
from bertkit.engine.onnx_export import ExportInfo, export_onnx, files_hash, write_export_info
from bertkit.engine.quality import CALIBRATION_TEXTS, INT8_MIN_MEAN_COSINE, Agreement, agreement
from bertkit.errors import UsageError

__all__ = ["EmbeddingHead", "embedding_graph", "export_embedding", "build_backend", "pooled_vectors", "compare_to_fp32"]


class EmbeddingHead(nn.Module):
    """EncoderOutput -> pooled vector. # -> (B, D) float32"""

    def __init__(self, layers: LayerSelection, pooling: Pooling) -> None:
        super().__init__()
        self.layers = layers
        self.pooling = pooling

    def forward(self, out: EncoderOutput) -> Tensor:
        tokens = self.layers.select(out.hidden_states) if out.hidden_states is not None else out.last_hidden_state
        inputs = PoolingInput(tokens, out.attention_mask, out.hidden_states, out.pooler_output)
        return self.pooling(inputs).vector.to(torch.float32)


def embedding_graph(encoder: Encoder, layers: LayerSelection, pooling: Pooling) -> EncoderGraph:
    """ids -> pooled vector, the graph both backends run. # (B, T) x 2-3 -> (B, D)"""
    hidden = pooling.needs_hidden_states or not layers.last_only
    head = EmbeddingHead(layers, pooling)
    return EncoderGraph(encoder.model, head, encoder.input_keys, hidden_states=hidden, pooler=pooling.needs_pooler).eval()


def export_embedding(encoder: Encoder, layers: LayerSelection, pooling: Pooling, dtype: str, *, from_files: bool) -> tuple[Path, ExportInfo]:
    """The embedding graph exported to ONNX (cached): (directory, ExportInfo).

    ``from_files``: the encoder's weights are those of its directory, unchanged, so the
    cache is keyed by the directory's files and a cached export is found without loading
    the torch model.
    """
    signature = json.dumps([pooling.spec, layers.indices])
    names = list(encoder.input_keys)
    key = files_hash(encoder.path, pooling, names, ["vector"], dtype, signature) if from_files else None
    return export_onnx(
        lambda: embedding_graph(encoder, layers, pooling), names, ["vector"], kind="embedding", dtype=dtype, key=key,
        max_length=encoder.max_length, pooling=pooling.spec, layers=layers.spec, dim=int(pooling.output_dim), signature=signature,
    )


def build_backend(encoder: Encoder, layers: LayerSelection, pooling: Pooling, *, backend: str, dtype: str, from_files: bool):
    """The torch graph, or its ONNX export (int8 vetted against fp32 the first time).

    Behind ONNX the torch weights are released once the export is done, when
    ``from_files`` (they reload from the directory if torch is needed again).
    """
    if backend == "torch":
        return TorchBackend(embedding_graph(encoder, layers, pooling), encoder.autocast)
    directory, info = export_embedding(encoder, layers, pooling, dtype, from_files=from_files)
    if dtype == "int8" and info.calibration_mean_cosine is None:
        result = compare_to_fp32(encoder, layers, pooling, OnnxBackend(directory / info.model_file, encoder.input_keys), CALIBRATION_TEXTS)
        info.calibration_mean_cosine, info.calibration_worst_cosine = result.mean_cosine, result.worst_cosine
        write_export_info(directory, info)
    if dtype == "int8" and info.calibration_mean_cosine < INT8_MIN_MEAN_COSINE:
        raise UsageError(
            f"int8 refused for {encoder.path.name} with pooling {pooling.spec}: its vectors drift "
            f"from fp32 (mean cosine {info.calibration_mean_cosine:.4f} < {INT8_MIN_MEAN_COSINE} on the calibration "
            "texts); use --dtype fp32 (onnx) or bf16 (torch)"
        )
    if from_files:
        encoder.release_weights()  # loaded only if the export or calibration needed them
    return OnnxBackend(directory / info.model_file, encoder.input_keys, info=info)


def pooled_vectors(encoder: Encoder, run, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """``run(batch) -> (B, D)`` over ``texts`` (each truncated to one window), in input order. # -> (N, D)"""
    windows = encoder.tokenize(list(texts))
    out: np.ndarray | None = None
    for idx, batch in encoder.batches(windows, batch_size):
        vectors = run(batch)
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        out[[windows.sample[w] for w in idx]] = vectors
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def compare_to_fp32(encoder: Encoder, layers: LayerSelection, pooling: Pooling, backend, texts: list[str]) -> Agreement:
    """Agreement of ``backend``'s vectors with torch fp32 on ``texts`` (the --check gate and
    the int8 calibration); texts longer than the model's limit are compared on their first window."""
    reference = TorchBackend(embedding_graph(encoder, layers, pooling), contextlib.nullcontext)
    return agreement(pooled_vectors(encoder, reference.run, texts), pooled_vectors(encoder, backend.run, texts))
