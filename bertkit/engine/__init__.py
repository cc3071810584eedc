"""The inference engine: backends (torch, ONNX Runtime fp32/int8), export, quality gate."""

from bertkit.engine.backends import BACKEND_DTYPES, BACKENDS, OnnxBackend, TorchBackend, check_backend
from bertkit.engine.graph import EmbeddingGraph
from bertkit.engine.onnx_export import ExportInfo, export_onnx
from bertkit.engine.quality import INT8_MIN_MEAN_COSINE, Agreement, agreement

__all__ = [
    "BACKEND_DTYPES",
    "BACKENDS",
    "OnnxBackend",
    "TorchBackend",
    "check_backend",
    "EmbeddingGraph",
    "ExportInfo",
    "export_onnx",
    "INT8_MIN_MEAN_COSINE",
    "Agreement",
    "agreement",
]
