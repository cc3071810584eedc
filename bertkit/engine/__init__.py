"""The inference engine: backends (torch, ONNX Runtime fp32/int8), export, quality gate.

Names load on first use, so ``bertkit.engine.runtime`` (name checks, the probe
cache) does not pull in torch or onnxruntime.
"""

from __future__ import annotations

from bertkit.io.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
