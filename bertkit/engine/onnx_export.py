"""Export a model graph to ONNX (fp32 or int8), cached by content hash.

Any module whose ``forward`` takes the padded id tensors (``input_ids``,
``token_type_ids``, ``attention_mask``, in the order given) and returns one tensor or a
tuple of tensors can be exported: the embedding graph (ids -> pooled vector), a
classifier (ids -> probabilities), a span head (ids -> start and end logits).

- fp32: ``torch.onnx.export`` of the eager attention, with dynamic batch and sequence
  axes, then ONNX Runtime's transformer optimiser (fused attention, LayerNorm and GELU)
  where it applies.
- int8: dynamic quantisation of the fp32 graph's weights (per channel, QInt8).

The cache key hashes the module's own weights (every parameter and buffer, learned
pooling and heads included), its input and output names and the export recipe, so any
change re-exports.

An export is a bertkit model directory (:mod:`bertkit.modeldir`) of task
``onnx-export``: ``bertkit.json`` (the :class:`ExportInfo`), the ``.onnx`` file and
``manifest.json``. A cached entry is verified on every use; a damaged one (a truncated
file, a flipped bit) is exported again with a one-line warning.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torch import nn

from bertkit.encoder.fingerprint import cache_root as bertkit_cache_root
from bertkit.errors import BertkitWarning, ModelLoadError, UsageError
from bertkit.modeldir import CONFIG_FILE, finish_writing, read_model_dir

__all__ = [
    "ONNX_DTYPES", "ExportInfo", "cache_root", "content_hash", "files_hash", "export_onnx", "read_export_info", "write_export_info",
]

ONNX_DTYPES = ("fp32", "int8")
OPSET = 17
EXPORT_VERSION = 4  # bump when the export recipe changes (4: the one EncoderGraph, model-directory format)


@dataclass
class ExportInfo:
    """What an exported directory holds (its ``bertkit.json``, task ``onnx-export``)."""

    TASK: ClassVar[str] = "onnx-export"
    SCHEMA_VERSION: ClassVar[int] = 1

    kind: Literal["embedding", "classifier", "span", "tokens"]  # tokens: per-layer token states (the tagger)
    model_file: Literal["model.onnx", "model_int8.onnx"]
    dtype: Literal["fp32", "int8"]
    inputs: list[str]
    outputs: list[str]
    max_length: int
    content_hash: str
    optimized: bool
    opset: int = OPSET
    pooling: str | None = None  # embedding: the pooling baked into the graph
    layers: str | None = None
    dim: int | None = None  # embedding: vector size
    labels: list[str] | None = None  # classifier: output order of the probabilities
    calibration_mean_cosine: float | None = None  # embedding int8 vs torch fp32 on the calibration texts
    calibration_worst_cosine: float | None = None
    calibration_agreement: float | None = None  # classifier int8: share of calibration texts labelled as fp32 does
    calibration_f1: float | None = None  # span int8: F1 of its calibration answers against fp32's
    refused: str | None = None  # why int8 was refused on real data (recorded by evaluate)


def read_export_info(directory: Path) -> ExportInfo:
    """The verified ExportInfo of an export directory (manifest and types checked)."""
    return read_model_dir(directory, ExportInfo)


def write_export_info(directory: Path, info: ExportInfo) -> None:
    """Rewrite the config and the manifest atomically (after a calibration or a refusal)."""
    finish_writing(directory, info)


def cache_root() -> Path:
    """``$BERTKIT_CACHE/onnx`` (default ``~/.cache/bertkit/onnx``)."""
    return bertkit_cache_root() / "onnx"


def content_hash(module: nn.Module, input_names: list[str], output_names: list[str], dtype: str, signature: str = "") -> str:
    """sha256 of every parameter and buffer of ``module``, its structure and the export signature.

    ``signature`` carries what the weights do not show (a layer selection, a pooling
    without parameters).
    """
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    h.update(json.dumps([repr(module), signature, input_names, output_names, dtype, OPSET, EXPORT_VERSION]).encode())
    return h.hexdigest()[:24]


def files_hash(directory: Path, module: nn.Module, input_names: list[str], output_names: list[str], dtype: str, signature: str = "") -> str:
    """A cache key from a model directory's files (weights and config, by content) plus
    ``module``'s own tensors (a pooling's learned parameters): no model needs loading.

    Only for graphs whose every other weight comes unchanged from ``directory``.
    """
    from bertkit.io.files import sha256_file

    h = hashlib.sha256(b"files")
    for path in sorted(directory.glob("*.safetensors")) + [directory / "config.json"]:
        h.update(path.name.encode())
        h.update(_cached_sha256(path, sha256_file).encode())
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    h.update(json.dumps([repr(module), signature, input_names, output_names, dtype, OPSET, EXPORT_VERSION]).encode())
    return h.hexdigest()[:24]


def _cached_sha256(path: Path, sha256_file) -> str:
    """sha256 of a file, remembered (bounded, thread-safe) while its size and mtime stay the same."""
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns, sha256_file)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, size: int, mtime_ns: int, sha256_file) -> str:
    return sha256_file(Path(path))


def _sample_inputs(input_names: list[str]) -> tuple[torch.Tensor, ...]:
    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]]) % 1000
    mask = (torch.arange(5)[None] < torch.tensor([[4], [5]])).long()
    types = torch.tensor([[0, 0, 1, 1, 0], [0, 0, 0, 1, 1]])
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return tuple(values[n] for n in input_names)


def _hf_models(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if hasattr(m, "set_attn_implementation") and hasattr(m, "config")]


def _export_fp32(module: nn.Module, input_names: list[str], output_names: list[str], path: Path) -> bool:
    dynamic = {n: {0: "batch", 1: "sequence"} for n in input_names}
    for n in output_names:
        dynamic[n] = {0: "batch"}
    raw = path.with_name("raw.onnx")
    models = _hf_models(module)
    previous = [getattr(m.config, "_attn_implementation", None) for m in models]
    # Export the eager attention: ORT's optimiser fuses its pattern into one Attention op.
    for m in models:
        m.set_attn_implementation("eager")
    try:
        with torch.no_grad():  # its warnings are filtered once, at import (below): catch_warnings is not thread-safe
            torch.onnx.export(
                module.eval(), _sample_inputs(input_names), str(raw), input_names=input_names,
                output_names=output_names, dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
            )
    finally:
        for m, impl in zip(models, previous):
            if impl is not None:
                m.set_attn_implementation(impl)
    try:  # fuse attention / LayerNorm / GELU where the graph matches ORT's patterns
        from onnxruntime.transformers import optimizer

        cfg = models[0].config if models else None
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
    quantize_dynamic(
        str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=keep_fp32,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
    )


# What tracing a transformers model for ONNX says every time (the export is checked against
# torch after the fact instead), silenced by message, once at import, in every thread.
warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"(transformers|bertkit)\.")
warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export", category=DeprecationWarning)


class _QuantiserAdvice(logging.Filter):
    """Drops the advice ORT's quantiser logs through the root logger ("consider
    pre-processing"), in every thread, without touching the root logger's level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno < logging.ERROR and f"onnxruntime{os.sep}quantization" in record.pathname)


if not any(isinstance(f, _QuantiserAdvice) for f in logging.getLogger().filters):
    logging.getLogger().addFilter(_QuantiserAdvice())  # once, at import


def export_onnx(
    module: nn.Module | Callable[[], nn.Module],
    input_names: list[str],
    output_names: list[str],
    *,
    kind: str,
    dtype: str = "fp32",
    max_length: int = 512,
    signature: str = "",
    key: str | None = None,
    **details,
) -> tuple[Path, ExportInfo]:
    """Export ``module`` (or reuse the cached export) and return (directory, info).

    The cache entry is ``cache_root()/<key>``, the key being the content hash of the
    module unless the caller gives one computed otherwise (from the model's files, so a
    cached export needs no torch model at all; ``module`` may then be a function that
    builds it, called only on a cache miss). Files are written to a temporary directory
    that is renamed into place, so a killed export never leaves a half-written entry.
    ``details`` fill the kind-specific ExportInfo fields.
    """
    if dtype not in ONNX_DTYPES:
        raise UsageError(f"unknown ONNX dtype {dtype!r}; valid options: {', '.join(ONNX_DTYPES)}")
    if key is None:
        module = module() if not isinstance(module, nn.Module) else module
        key = content_hash(module, input_names, output_names, dtype, signature)
    target = cache_root() / key
    cached = _cached(target, key)
    if cached is not None:
        return target, cached
    target.parent.mkdir(parents=True, exist_ok=True)
    module = module() if not isinstance(module, nn.Module) else module
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        fp32 = work / "model.onnx"
        optimized = _export_fp32(module, input_names, output_names, fp32)
        model_file = "model.onnx"
        if dtype == "int8":
            _quantize(fp32, work / "model_int8.onnx")
            fp32.unlink()
            model_file = "model_int8.onnx"
        info = ExportInfo(kind, model_file, dtype, list(input_names), list(output_names), max_length, key, optimized, **details)
        finish_writing(work, info)
        shutil.rmtree(target, ignore_errors=True)  # a stale or incomplete entry
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target, info


def _cached(target: Path, key: str) -> ExportInfo | None:
    """The verified cache entry ``target``, or None (absent, or damaged: then with a warning)."""
    if not (target / CONFIG_FILE).is_file():
        return None  # absent, or written by an older bertkit: export again
    try:
        info = read_export_info(target)
    except ModelLoadError as exc:
        warnings.warn(f"the cached ONNX export is damaged ({exc}); exporting it again", BertkitWarning, stacklevel=3)
        return None
    return info if info.content_hash == key else None
