"""Build an Embedder's backend: the torch graph, or an ONNX export vetted by the quality gate."""

from __future__ import annotations

import json

from bertkit.engine.backends import OnnxBackend, TorchBackend
from bertkit.engine.graph import EmbeddingGraph
from bertkit.engine.onnx_export import export_onnx, files_hash, write_export_info
from bertkit.engine.quality import CALIBRATION_TEXTS, INT8_MIN_MEAN_COSINE, agreement
from bertkit.errors import UsageError

__all__ = ["build_backend", "compare_to_fp32", "export_embedding", "graph_of"]


def graph_of(embedder) -> EmbeddingGraph:
    enc = embedder.encoder
    return EmbeddingGraph(enc.model, embedder.layers, embedder.pooling, enc.input_keys).eval()


def export_embedding(embedder):
    """The embedder's graph exported to ONNX (cached): (directory, ExportInfo).

    An embedder that loaded its own encoder keys the cache by the model's files, so a
    cached export is found without loading the torch model.
    """
    signature = json.dumps([embedder.pooling.spec, embedder.layers.indices])
    names = list(embedder.encoder.input_keys)
    key = None
    if embedder._owns_encoder:
        key = files_hash(embedder.encoder.path, embedder.pooling, names, ["vector"], embedder.dtype, signature)
    return export_onnx(
        lambda: graph_of(embedder), names, ["vector"], kind="embedding", dtype=embedder.dtype, key=key,
        max_length=embedder.encoder.max_length, pooling=embedder.pooling.spec, layers=embedder.layers.spec,
        dim=int(embedder.pooling.output_dim), signature=signature,
    )


def build_backend(embedder):
    """The backend named by ``embedder.backend_name`` / ``embedder.dtype``.

    For ONNX the torch weights are released once the export (and, the first time, the
    int8 calibration) is done, when the embedder loaded its own encoder.
    """
    if embedder.backend_name == "torch":
        return TorchBackend(graph_of(embedder), embedder.encoder.autocast)
    directory, info = export_embedding(embedder)
    if embedder.dtype == "int8" and info.calibration_mean_cosine is None:
        _calibrate(embedder, graph_of(embedder), directory, info)
    if embedder.dtype == "int8" and info.calibration_mean_cosine < INT8_MIN_MEAN_COSINE:
        raise UsageError(
            f"int8 refused for {embedder.encoder.path.name} with pooling {embedder.pooling.spec}: its vectors drift "
            f"from fp32 (mean cosine {info.calibration_mean_cosine:.4f} < {INT8_MIN_MEAN_COSINE} on the calibration "
            "texts); use --dtype fp32 (onnx) or bf16 (torch)"
        )
    if embedder._owns_encoder:
        embedder.encoder.release_weights()  # loaded only if the export or calibration needed them
    return OnnxBackend(directory / info.model_file, embedder.encoder.input_keys)


def _calibrate(embedder, graph: EmbeddingGraph, directory, info) -> None:
    """Vet an int8 export against torch fp32 on the calibration texts; record the result."""
    reference = TorchBackend(graph, embedder.encoder.autocast)
    candidate = OnnxBackend(directory / info.model_file, graph.input_names)
    saved = embedder.last_stats
    ref = embedder._embed_chunk(list(CALIBRATION_TEXTS), reference)
    got = embedder._embed_chunk(list(CALIBRATION_TEXTS), candidate)
    embedder.last_stats = saved
    result = agreement(ref, got)
    info.calibration_mean_cosine, info.calibration_worst_cosine = result.mean_cosine, result.worst_cosine
    write_export_info(directory, info)


def compare_to_fp32(embedder, texts: list[str]):
    """Agreement of the embedder's backend with torch fp32 on ``texts`` (the --check gate)."""
    import contextlib

    reference = TorchBackend(graph_of(embedder), contextlib.nullcontext)
    saved = embedder.last_stats
    ref = embedder._embed_chunk(list(texts), reference)
    got = embedder._embed_chunk(list(texts), embedder.backend)
    embedder.last_stats = saved
    return agreement(ref, got)
