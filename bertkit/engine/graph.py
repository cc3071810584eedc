"""The one graph every backend runs: padded ids -> the model forward -> a task head.

``EncoderGraph(model, head, input_names, hidden_states=..., pooler=...)`` calls
:func:`bertkit.encoder.forward.run_encoder` (the forward torch inference uses too) and
hands its :class:`EncoderOutput` to ``head``, a module owned by the task: pooling to a
vector (embeddings), every head's probabilities (classification), start and end logits
(QA). The torch backend runs it under autocast; :func:`bertkit.engine.onnx_export.export_onnx`
exports it. The engine knows nothing of the tasks beyond this shape.
"""

from __future__ import annotations

from torch import Tensor, nn

from bertkit.encoder.forward import run_encoder

__all__ = ["EncoderGraph"]


class EncoderGraph(nn.Module):
    """ids -> EncoderOutput -> ``head``. # (B, T) x 2-3 -> the head's tensor(s)"""

    def __init__(self, model: nn.Module, head: nn.Module, input_names: list[str], *, hidden_states: bool, pooler: bool) -> None:
        super().__init__()
        self.model = model
        self.head = head
        self.input_names = list(input_names)
        self.hidden_states = hidden_states
        self.pooler = pooler

    def forward(self, *inputs: Tensor):
        encoded = run_encoder(self.model, dict(zip(self.input_names, inputs)), hidden_states=self.hidden_states, pooler=self.pooler)
        return self.head(encoded)
