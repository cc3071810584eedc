"""The inference engine: backends (torch, ONNX Runtime fp32/int8), export, quality gate."""

from bertkit.engine.backends import BACKEND_DTYPES, BACKENDS, OnnxBackend, TorchBackend, check_backend
from bertkit.engine.graph import EncoderGraph
from bertkit.engine.onnx_export import ExportInfo, export_onnx
from bertkit.engine.quality import INT8_MAX_METRIC_DROP, INT8_MIN_MEAN_COSINE, Agreement, agreement
from bertkit.engine.tasks import TaskExport, metric_gate, task_backend

__all__ = [
    "BACKEND_DTYPES",
    "BACKENDS",
    "OnnxBackend",
    "TorchBackend",
    "check_backend",
    "EncoderGraph",
    "ExportInfo",
    "export_onnx",
    "INT8_MIN_MEAN_COSINE",
    "INT8_MAX_METRIC_DROP",
    "TaskExport",
    "task_backend",
    "metric_gate",
    "Agreement",
    "agreement",
]
