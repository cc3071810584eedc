"""The inference engine: backends (torch, ONNX Runtime fp32/int8), export, quality gate.

Names load on first use, so ``bertkit.engine.runtime`` (name checks, the probe
cache) does not pull in torch or onnxruntime.
"""

from __future__ import annotations

import importlib

# public name -> the module that defines it
_EXPORTS = {
    "BACKEND_DTYPES": "bertkit.engine.backends",
    "BACKENDS": "bertkit.engine.backends",
    "OnnxBackend": "bertkit.engine.backends",
    "TorchBackend": "bertkit.engine.backends",
    "check_backend": "bertkit.engine.backends",
    "EncoderGraph": "bertkit.engine.graph",
    "ExportInfo": "bertkit.engine.onnx_export",
    "export_onnx": "bertkit.engine.onnx_export",
    "INT8_MIN_MEAN_COSINE": "bertkit.engine.quality",
    "INT8_MAX_METRIC_DROP": "bertkit.engine.quality",
    "TaskExport": "bertkit.engine.tasks",
    "task_backend": "bertkit.engine.tasks",
    "metric_gate": "bertkit.engine.tasks",
    "Agreement": "bertkit.engine.quality",
    "agreement": "bertkit.engine.quality",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    """Import a public name on first use (PEP 562), then keep it as a plain attribute."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
