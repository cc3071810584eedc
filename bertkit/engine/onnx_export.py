"""Export the embedding graph to ONNX (fp32 or int8), cached by content hash.

- fp32: ``torch.onnx.export`` with dynamic batch and sequence axes, then ONNX Runtime's
  transformer optimiser (fused attention, LayerNorm and GELU) where it applies.
- int8: dynamic quantisation of the fp32 graph's weights (per channel, QInt8).

The cache key hashes the weights, configs, pooling (spec and learned parameters),
layer selection and the export settings, so any change re-exports.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bertkit.engine.graph import EmbeddingGraph
from bertkit.errors import UsageError

__all__ = ["ONNX_DTYPES", "ExportInfo", "cache_root", "content_hash", "export_onnx"]

ONNX_DTYPES = ("fp32", "int8")
OPSET = 17
EXPORT_VERSION = 2  # bump when the export recipe changes


@dataclass
class ExportInfo:
    """What an exported directory holds (written as onnx_config.json)."""

    model_file: str
    dtype: str
    inputs: list[str]
    output: str
    pooling: str
    layers: str
    dim: int
    max_length: int
    content_hash: str
    optimized: bool
    opset: int = OPSET
    calibration_mean_cosine: float | None = None  # int8 vs torch fp32 on the calibration texts
    calibration_worst_cosine: float | None = None


def cache_root() -> Path:
    return Path(os.environ.get("BERTKIT_CACHE", Path.home() / ".cache" / "bertkit")) / "onnx"


def content_hash(graph: EmbeddingGraph, model_dir: Path, dtype: str) -> str:
    h = hashlib.sha256()
    for f in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.json")):
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    for name, tensor in sorted(graph.pooling.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().float().numpy().tobytes())
    h.update(json.dumps([graph.pooling.spec, graph.layers.indices, graph.input_names, dtype, OPSET, EXPORT_VERSION]).encode())
    return h.hexdigest()[:24]


def _sample_inputs(graph: EmbeddingGraph) -> tuple[torch.Tensor, ...]:
    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]])
    ids = ids.clamp(max=graph.model.config.vocab_size - 1)
    mask = (torch.arange(5)[None] < torch.tensor([[4], [5]])).long()
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    return tuple(values[n] for n in graph.input_names)


def _export_fp32(graph: EmbeddingGraph, path: Path) -> bool:
    dynamic = {n: {0: "batch", 1: "sequence"} for n in graph.input_names}
    dynamic["vector"] = {0: "batch"}
    raw = path.with_name("raw.onnx")
    model = graph.model
    previous = getattr(model.config, "_attn_implementation", None)
    # Export the eager attention: ORT's optimiser fuses its pattern into one Attention op.
    if previous not in (None, "eager") and hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph.eval(), _sample_inputs(graph), str(raw), input_names=graph.input_names, output_names=["vector"],
                dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
            )
    finally:
        if previous not in (None, "eager") and hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(previous)
    try:  # fuse attention / LayerNorm / GELU where the graph matches ORT's patterns
        from onnxruntime.transformers import optimizer

        cfg = graph.model.config
        opt = optimizer.optimize_model(
            str(raw), model_type="bert", num_heads=int(getattr(cfg, "num_attention_heads", 0) or 0),
            hidden_size=int(getattr(cfg, "hidden_size", 0) or 0), opt_level=1,
        )
        opt.save_model_to_file(str(path))
        raw.unlink()
        return True
    except Exception:  # noqa: BLE001 - optimisation is best effort; the plain graph is correct
        raw.replace(path)
        return False


_GELU_OPS = ("Gelu", "BiasGelu", "FastGelu", "QuickGelu")


def _after_gelu(model) -> list[str]:
    """MatMuls fed by a GELU (the feed-forward down-projections).

    Their inputs have the widest range of any activation, so per-tensor dynamic uint8
    quantisation of them costs the most accuracy; keeping them in fp32 lifts the mean
    cosine to fp32 of all-MiniLM-L6-v2 from ~0.990 to ~0.994 (bench/engine.py).
    """
    producer = {out: node for node in model.graph.node for out in node.output}
    names = []
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input and node.input[0] in producer:
            if producer[node.input[0]].op_type in _GELU_OPS or "/output/dense/" in node.name and "attention" not in node.name:
                names.append(node.name)
    return names


def _quantize(src: Path, dst: Path) -> None:
    """Dynamic int8: per-channel QInt8 weights, activations quantised per batch."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep_fp32 = _after_gelu(onnx.load(str(src), load_external_data=False))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser logs advice through the root logger
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            quantize_dynamic(
                str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=keep_fp32,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
            )
        finally:
            root.setLevel(level)


def export_onnx(graph: EmbeddingGraph, model_dir: Path, *, dtype: str = "fp32", max_length: int = 512) -> tuple[Path, ExportInfo]:
    """Export (or reuse from the cache) and return (directory, info).

    The cache entry is ``cache_root()/<content hash>``. Files are written to a temporary
    directory that is renamed into place, so a killed export never leaves a
    half-written entry.
    """
    if dtype not in ONNX_DTYPES:
        raise UsageError(f"unknown ONNX dtype {dtype!r}; valid options: {', '.join(ONNX_DTYPES)}")
    key = content_hash(graph, model_dir, dtype)
    target = cache_root() / key
    config_path = target / "onnx_config.json"
    if config_path.is_file():
        info = ExportInfo(**json.loads(config_path.read_text()))
        if info.content_hash == key and (target / info.model_file).is_file():
            return target, info
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        fp32 = work / "model.onnx"
        optimized = _export_fp32(graph, fp32)
        model_file = "model.onnx"
        if dtype == "int8":
            _quantize(fp32, work / "model_int8.onnx")
            fp32.unlink()
            model_file = "model_int8.onnx"
        dim = int(graph.pooling.output_dim)
        info = ExportInfo(model_file, dtype, graph.input_names, "vector", graph.pooling.spec, graph.layers.spec, dim, max_length, key, optimized)
        (work / "onnx_config.json").write_text(json.dumps(asdict(info), indent=2))
        shutil.rmtree(target, ignore_errors=True)  # a stale or incomplete entry
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target, info
