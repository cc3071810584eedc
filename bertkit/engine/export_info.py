"""What a cached or written ONNX export holds: :class:`ExportInfo` (its ``bertkit.json``).

Torch-free, so the warm fast path (:mod:`bertkit.engine.fastpath`) can verify a cached
export without the exporter (:mod:`bertkit.engine.onnx_export`, which needs torch).
An export is a bertkit model directory (:mod:`bertkit.modeldir`) of task ``onnx-export``:
``bertkit.json``, the ``.onnx`` file and ``manifest.json`` with the sha256 of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from bertkit.encoder.fingerprint import cache_root as bertkit_cache_root
from bertkit.modeldir import finish_writing, read_model_dir

__all__ = ["ONNX_DTYPES", "OPSET", "ExportInfo", "cache_root", "read_export_info", "write_export_info"]

ONNX_DTYPES = ("fp32", "int8")
OPSET = 17


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
    fusion: str | None = None  # what ONNX Runtime's transformer optimiser did, or why it was skipped (one line)


def read_export_info(directory: Path) -> ExportInfo:
    """The verified ExportInfo of an export directory (manifest and types checked)."""
    return read_model_dir(directory, ExportInfo)


def write_export_info(directory: Path, info: ExportInfo) -> None:
    """Rewrite the config and the manifest atomically (after a calibration or a refusal)."""
    finish_writing(directory, info)


def cache_root() -> Path:
    """``$BERTKIT_CACHE/onnx`` (default ``~/.cache/bertkit/onnx``)."""
    return bertkit_cache_root() / "onnx"
