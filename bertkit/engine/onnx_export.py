"""Export a model graph to ONNX (fp32 or int8), cached by content hash.

Any module whose ``forward`` takes the padded id tensors (``input_ids``,
``token_type_ids``, ``attention_mask``, in the order given) and returns one tensor or a
tuple of tensors can be exported: the embedding graph (ids -> pooled vector), a
classifier (ids -> probabilities), a span head (ids -> start and end logits).

- fp32: ``torch.onnx.export`` of the eager attention, with dynamic batch and sequence
  axes, then ONNX Runtime's transformer optimiser (fused attention, LayerNorm and GELU)
  for the model types it was built for, checked against the plain graph
  (:mod:`bertkit.engine.onnx_optimize`; ``ExportInfo.fusion`` says what it did).
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

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from bertkit.engine.export_info import ONNX_DTYPES, OPSET, ExportInfo, cache_root, read_export_info, write_export_info
from bertkit.engine.onnx_optimize import Fusion, fuse_graph
from bertkit.errors import BertkitWarning, ModelLoadError, UsageError
from bertkit.modeldir import CONFIG_FILE, finish_writing

__all__ = [
    "ONNX_DTYPES", "ExportInfo", "cache_root", "content_hash", "files_hash", "export_onnx", "read_export_info", "write_export_info",
]

EXPORT_VERSION = 5  # bump when the export recipe changes (4: the one EncoderGraph, model-directory format; 5: checked fusion)


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


def _sample_inputs(input_names: list[str], config=None) -> tuple[torch.Tensor, ...]:
    """Two padded rows for tracing, valid for ``config`` (ids inside its vocabulary, token
    type 1 only where the model has a second token type)."""
    vocab = int(getattr(config, "vocab_size", 0) or 1000)
    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]]) % min(vocab, 1000)  # (2, 5)
    mask = (torch.arange(5)[None] < torch.tensor([[4], [5]])).long()  # (2, 5)
    types = torch.tensor([[0, 0, 1, 1, 0], [0, 0, 0, 1, 1]])  # (2, 5)
    if int(getattr(config, "type_vocab_size", 2) or 0) < 2:
        types = torch.zeros_like(types)
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return tuple(values[n] for n in input_names)


def _hf_models(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if hasattr(m, "set_attn_implementation") and hasattr(m, "config")]


def _export_fp32(module: nn.Module, input_names: list[str], output_names: list[str], path: Path) -> Fusion:
    dynamic = {n: {0: "batch", 1: "sequence"} for n in input_names}
    for n in output_names:
        dynamic[n] = {0: "batch"}
    raw = path.with_name("raw.onnx")
    models = _hf_models(module)
    previous = [getattr(m.config, "_attn_implementation", None) for m in models]
    # Export the eager attention: ORT's optimiser fuses its pattern into one Attention op, and
    # every architecture has it (ModernBERT's unpadded flash path and SDPA's masks trace worse).
    for m in models:
        m.set_attn_implementation("eager")
    try:
        with torch.no_grad(), _tracer_quiet():
            torch.onnx.export(
                module.eval(), _sample_inputs(input_names, models[0].config if models else None), str(raw), input_names=input_names,
                output_names=output_names, dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
            )
    finally:
        for m, impl in zip(models, previous):
            if impl is not None:
                m.set_attn_implementation(impl)
    try:  # fuse attention / LayerNorm / GELU where ORT's optimiser is known to apply, and checked
        return fuse_graph(raw, path, models[0].config if models else None, input_names)
    finally:
        raw.unlink(missing_ok=True)


_GELU_OPS = ("Gelu", "BiasGelu", "FastGelu", "QuickGelu")
_ACTIVATION_OPS = {*_GELU_OPS, "Erf", "Tanh"}  # an unfused GELU (Erf or tanh form), or a GeGLU gate


def _after_gelu(model) -> list[str]:
    """MatMuls fed by a GELU (the feed-forward down-projections), fused or not.

    Their inputs have the widest range of any activation, so per-tensor dynamic uint8
    quantisation of them costs the most accuracy; keeping them in fp32 lifts the mean
    cosine to fp32 of all-MiniLM-L6-v2 from ~0.990 to ~0.994 (bench/engine.py). A MatMul
    counts when a GELU-type op (or the Erf / Tanh of an unfused one) is among the
    producers of its input, at most four element-wise steps up: that covers the unfused
    ``x * 0.5 * (1 + erf(x / sqrt 2))`` (DeBERTa-v2) and ModernBERT's GeGLU ``gelu(a) * b``.
    """
    producer = {out: node for node in model.graph.node for out in node.output}

    def fed_by_gelu(name: str, depth: int) -> bool:
        node = producer.get(name)
        if node is None:
            return False
        if node.op_type in _ACTIVATION_OPS:
            return True
        if depth == 0 or node.op_type not in ("Mul", "Add", "Div"):
            return False
        return any(fed_by_gelu(i, depth - 1) for i in node.input)

    return [
        node.name for node in model.graph.node
        if node.op_type == "MatMul" and node.input and fed_by_gelu(node.input[0], 4)
    ]


def _quantize(src: Path, dst: Path) -> None:
    """Dynamic int8: per-channel QInt8 weights, activations quantised per batch."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep_fp32 = _after_gelu(onnx.load(str(src), load_external_data=False))
    with _quantiser_quiet():
        quantize_dynamic(
            str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=keep_fp32,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
        )


# Exports and quantisations run one at a time: what they silence (below) is silenced for
# the duration of one export only and put back after, never for the process.
_QUIET_LOCK = threading.RLock()


@contextlib.contextmanager
def _tracer_quiet():
    """What tracing a transformers model for ONNX says every time (the export is checked
    against torch after the fact instead), silenced by message inside the block only."""
    with _QUIET_LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"(transformers|bertkit)\.")
        warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export", category=DeprecationWarning)
        yield


class _QuantiserAdvice(logging.Filter):
    """Drops the advice ORT's quantiser logs through the root logger ("consider
    pre-processing"), without touching the root logger's level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno < logging.ERROR and f"onnxruntime{os.sep}quantization" in record.pathname)


@contextlib.contextmanager
def _quantiser_quiet():
    """:class:`_QuantiserAdvice` on the root logger (and its handlers) inside the block only."""
    root = logging.getLogger()
    quiet = _QuantiserAdvice()
    with _QUIET_LOCK:
        targets = [root, *root.handlers]
        for target in targets:
            target.addFilter(quiet)
        try:
            yield
        finally:
            for target in targets:
                target.removeFilter(quiet)


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
        fusion = _export_fp32(module, input_names, output_names, fp32)
        if fusion.notice:
            warnings.warn(f"ONNX export for {kind}: {fusion.reason}", BertkitWarning, stacklevel=2)
        model_file = "model.onnx"
        if dtype == "int8":
            _quantize(fp32, work / "model_int8.onnx")
            fp32.unlink()
            model_file = "model_int8.onnx"
        info = ExportInfo(
            kind, model_file, dtype, list(input_names), list(output_names), max_length, key, fusion.fused, fusion=fusion.reason, **details
        )
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
