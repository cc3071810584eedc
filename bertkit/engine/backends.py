"""Inference backends behind one interface, chosen by name.

A backend turns a padded batch of ids into pooled vectors: ``run(batch) -> (B, D)``.

========  ================  ==============================================
backend   dtypes            how
========  ================  ==============================================
torch     fp32, bf16, fp16  the PyTorch model; bf16/fp16 through autocast
onnx      fp32, int8        ONNX Runtime (graph optimisation ALL, one
                            intra-op thread per core); int8 = dynamic
                            per-channel quantisation of the weights
========  ================  ==============================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bertkit.engine.graph import EncoderGraph
from bertkit.engine.onnx_runner import ort_session  # torch-free: the warm fast path opens its sessions the same way
from bertkit.errors import UsageError, choice_error

__all__ = ["BACKENDS", "BACKEND_DTYPES", "ONNX_ON_GPU", "check_backend", "torch_settings", "TorchBackend", "OnnxBackend", "ort_session"]

BACKEND_DTYPES = {"torch": ("fp32", "bf16", "fp16"), "onnx": ("fp32", "int8")}
BACKENDS = tuple(BACKEND_DTYPES)


def check_backend(backend: str, dtype: str) -> None:
    """Validate a concrete (backend, dtype) pair with a message that names the valid options."""
    from bertkit.engine.runtime import check_names

    if backend not in BACKEND_DTYPES:
        raise choice_error("backend", backend, BACKENDS)
    if dtype == "auto":
        raise UsageError(f"dtype 'auto' must be resolved first; valid options for backend {backend!r}: {', '.join(BACKEND_DTYPES[backend])}")
    check_names(backend, dtype)


ONNX_ON_GPU = "backend 'onnx' runs on the CPU here; use --device cpu, or --backend torch on a GPU"


def torch_settings(backend: str, dtype: str, device: str) -> tuple[str, str]:
    """(device, dtype) for the torch model behind a backend.

    ONNX exports an fp32 model on the CPU, so there ``auto`` means the CPU even where a
    GPU is present, and another device is refused.
    """
    check_backend(backend, dtype)
    if backend == "torch":
        return device, dtype
    if device not in ("auto", "cpu"):
        raise UsageError(ONNX_ON_GPU)
    return "cpu", "fp32"


class TorchBackend:
    name = "torch"

    def __init__(self, graph: EncoderGraph, autocast) -> None:
        self.graph = graph
        self.autocast = autocast

    def run_all(self, batch: dict[str, torch.Tensor]) -> list[np.ndarray]:
        """Every output of the graph (one tensor or a tuple), as float32 arrays."""
        with torch.inference_mode(), self.autocast():
            out = self.graph(*[batch[n] for n in self.graph.input_names])
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.float().cpu().numpy() for o in outs]

    def run(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        return self.run_all(batch)[0]


class OnnxBackend:
    name = "onnx"

    def __init__(self, path: Path, input_names: list[str], threads: int | None = None, info=None) -> None:
        self.path = Path(path)  # the export's .onnx file (its directory is the export)
        self.info = info  # the export's verified ExportInfo, when the caller has read it
        self.session = ort_session(path, threads)
        graph_inputs = {i.name for i in self.session.get_inputs()}  # an input the model ignores is pruned by the export
        self.input_names = [n for n in input_names if n in graph_inputs]

    def run_all(self, batch: dict[str, torch.Tensor]) -> list[np.ndarray]:
        """Every output of the graph, in export order."""
        feed = {n: batch[n].cpu().numpy() for n in self.input_names}
        return self.session.run(None, feed)

    def run(self, batch: dict[str, torch.Tensor]) -> np.ndarray:
        return self.run_all(batch)[0]
