"""QA models on the engine: the span model exported to ONNX (ids -> start and end logits),
with the int8 gate on F1.

The engine imports the prediction code (its gate answers the calibration questions);
:mod:`bertkit.qa.predict` knows engines only by their shape (``LogitsEngine``), so the two
modules do not import each other."""

from __future__ import annotations

import numpy as np
from torch import Tensor, nn

from bertkit.engine.backends import ONNX_ON_GPU, OnnxBackend, check_backend
from bertkit.engine.tasks import TaskExport, metric_gate, task_backend
from bertkit.errors import UsageError
from bertkit.encoder.forward import EncoderOutput
from bertkit.engine.graph import EncoderGraph
from bertkit.qa.calibration import CALIBRATION_QA
from bertkit.qa.metric import squad_v1
from bertkit.qa.model import QAModel, SpanHead, span_logits
from bertkit.qa.modeldir import QAConfig
from bertkit.qa.predict import answer_questions

__all__ = ["SpanLogits", "span_graph", "SpanEngine", "calibration_f1"]


class SpanLogits(nn.Module):
    """EncoderOutput -> start and end logits, padding masked. # -> (B, T), (B, T)"""

    def __init__(self, head: SpanHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, out: EncoderOutput) -> tuple[Tensor, Tensor]:
        return span_logits(self.head, out)


def span_graph(model: QAModel) -> EncoderGraph:
    """ids -> start and end logits on the engine's one forward. # (B, T) x k -> (B, T), (B, T)"""
    return EncoderGraph(model.encoder, SpanLogits(model.head), model.wrapped.input_keys, hidden_states=False, pooler=False).eval()


class SpanEngine:
    """Where a QA model's windows become logits: the torch model, or its ONNX export.

    >>> engine = SpanEngine(model, config, backend="onnx", dtype="int8")  # gated on first use
    """

    def __init__(self, model: QAModel, config: QAConfig, *, backend: str = "torch", dtype: str = "fp32", name: str = "the QA model") -> None:
        check_backend(backend, dtype)
        if backend == "onnx" and model.wrapped.device.type != "cpu":
            raise UsageError(ONNX_ON_GPU)
        if backend == "torch" and dtype != model.wrapped.dtype:
            raise UsageError(f"the model was loaded for {model.wrapped.dtype}, not {dtype}")
        self.model, self.config = model, config
        self.backend_name, self.dtype, self.name = backend, dtype, name
        self.export: TaskExport | None = None
        self._onnx: OnnxBackend | None = None
        if backend == "onnx":
            self.export = self._build()
            self._onnx = self.export.backend

    @classmethod
    def over(cls, model: QAModel, config: QAConfig, backend: OnnxBackend, dtype: str) -> "SpanEngine":
        """An engine over an ONNX session already open (an int8 candidate under calibration)."""
        engine = cls(model, config, backend="torch", dtype=model.wrapped.dtype)
        engine.backend_name, engine.dtype, engine._onnx = "onnx", dtype, backend
        return engine

    def logits(self, batch: dict[str, Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """# (B, T) each, float32"""
        if self._onnx is None:
            start, end = self.model(batch)
            return start.float().cpu().numpy(), end.float().cpu().numpy()
        start, end = self._onnx.run_all(batch)
        return start, end

    def _build(self) -> TaskExport:
        graph = span_graph(self.model)

        def calibrate(candidate, info) -> str | None:
            fp32 = calibration_f1(self.model, self.config, None)
            int8 = calibration_f1(self.model, self.config, SpanEngine.over(self.model, self.config, candidate, self.dtype))
            info.calibration_f1 = int8
            return metric_gate("F1", fp32, int8, "the calibration questions")

        return task_backend(
            graph, graph.input_names, ["start_logits", "end_logits"], dtype=self.dtype, kind="span", name=self.name,
            max_length=self.model.wrapped.max_length, calibrate=calibrate, signature="span",
        )


def calibration_f1(model: QAModel, config: QAConfig, engine: SpanEngine | None) -> float:
    """SQuAD F1 (0-100) on the built-in calibration questions, always giving the best span."""
    import math

    questions = [q for q, _, _ in CALIBRATION_QA]
    contexts = [c for _, c, _ in CALIBRATION_QA]
    preds = answer_questions(model, config, questions, contexts, null_threshold=math.inf, engine=engine)
    predictions = {str(i): (d.answer.text if d.answer is not None else "") for i, d in enumerate(preds.decoded)}
    references = {str(i): refs for i, (_, _, refs) in enumerate(CALIBRATION_QA)}
    return float(squad_v1(references, predictions)["f1"])
