"""Task graphs on the engine: export a model (ids -> outputs) and run it on ONNX Runtime.

The embedding path builds its own (``bertkit.embeddings.engine``, a vector gate);
classification and QA share this one. A task module takes the padded id tensors positionally and returns one tensor or a
tuple; :func:`task_backend` exports it (cached by content hash), applies the int8 gate
the task supplies the first time, honours a refusal recorded on real data, and returns
an :class:`OnnxBackend`.

The int8 gate for tasks is a metric gate: accuracy or F1 on int8 must stay within
``INT8_MAX_METRIC_DROP`` points of torch fp32. It is checked twice:

- when the int8 export is first used, on calibration inputs against fp32's own outputs
  (label agreement, answer F1), which needs no reference labels;
- by ``evaluate`` on the user's labelled data; a drop there is recorded in the export
  and refuses int8 for that model from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from bertkit.engine.backends import OnnxBackend, check_backend
from bertkit.engine.onnx_export import ExportInfo, export_onnx, write_export_info
from bertkit.engine.quality import INT8_MAX_METRIC_DROP
from bertkit.errors import ParameterError

__all__ = ["TaskExport", "task_backend", "metric_gate", "record_refusal"]


@dataclass
class TaskExport:
    """An exported task graph: the ONNX session and where its export lives."""

    backend: OnnxBackend
    directory: Path
    info: ExportInfo


def task_backend(
    module: nn.Module,
    input_names: list[str],
    output_names: list[str],
    *,
    dtype: str,
    kind: str,
    name: str,
    max_length: int,
    calibrate: Callable[[OnnxBackend, ExportInfo], str | None] | None = None,
    **details,
) -> TaskExport:
    """Export ``module`` for ``dtype`` and return its ONNX backend.

    ``calibrate(candidate, info)`` runs once per int8 export: it fills the info's
    calibration fields and returns a refusal reason, or None. ``name`` names the model in
    messages.
    """
    check_backend("onnx", dtype)
    directory, info = export_onnx(module, input_names, output_names, kind=kind, dtype=dtype, max_length=max_length, **details)
    backend = OnnxBackend(directory / info.model_file, input_names)
    if dtype == "int8":
        if info.refused is None and calibrate is not None and info.calibration_agreement is None and info.calibration_f1 is None:
            info.refused = calibrate(backend, info)
            write_export_info(directory, info)
        if info.refused:
            raise ParameterError("dtype", f"int8 refused for {name}: {info.refused}; use dtype fp32")
    return TaskExport(backend, directory, info)


def metric_gate(metric: str, fp32: float, int8: float, where: str) -> str | None:
    """The refusal reason when int8 loses more than INT8_MAX_METRIC_DROP points, else None."""
    drop = fp32 - int8
    if drop > INT8_MAX_METRIC_DROP:
        return (
            f"its {metric} on {where} is {int8:.2f} against {fp32:.2f} on fp32 "
            f"({drop:.2f} points lower; at most {INT8_MAX_METRIC_DROP} allowed)"
        )
    return None


def record_refusal(export: TaskExport, reason: str) -> None:
    """Remember on the export that int8 failed on real data (later runs are refused too)."""
    export.info.refused = reason
    write_export_info(export.directory, export.info)
