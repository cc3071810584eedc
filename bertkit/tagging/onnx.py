"""The tagger's encoder on ONNX Runtime: the engine's one ``EncoderGraph`` with a head that
returns the chosen layers' token states, exported (and cached) by ``bertkit.engine``.

Only the encoder pass moves to ONNX Runtime; pooling pieces into words, the layer mix,
the BiLSTM, the linear layer and the CRF stay in torch (they are small). fp32 only.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bertkit.embeddings.layers import LayerSelection
from bertkit.encoder.forward import EncoderOutput
from bertkit.engine.backends import OnnxBackend
from bertkit.engine.graph import EncoderGraph
from bertkit.engine.tasks import task_backend

__all__ = ["LayerStates", "onnx_states"]


class LayerStates(nn.Module):
    """EncoderOutput -> the selected layers' token states. # -> (B, T, K, H)"""

    def __init__(self, layers: LayerSelection) -> None:
        super().__init__()
        self.indices = list(layers.indices)
        self.last_only = layers.last_only

    def forward(self, encoded: EncoderOutput) -> Tensor:
        if self.last_only:
            return encoded.last_hidden_state.unsqueeze(2)
        return torch.stack([encoded.hidden_states[i] for i in self.indices], dim=2)


def onnx_states(embedding, name: str, threads: int | None = None):
    """A ``states(batch) -> (B, T, K, H)`` function running ``embedding``'s encoder on ONNX Runtime (fp32);
    ``threads``: ONNX Runtime's intra-op threads (default: every core)."""
    runner = embedding.runner
    head = LayerStates(embedding.layers)
    graph = EncoderGraph(runner.model, head, list(runner.input_keys), hidden_states=not head.last_only, pooler=False)
    export = task_backend(graph, list(runner.input_keys), ["states"], dtype="fp32", kind="tokens", name=name,
                          max_length=runner.max_length, layers=",".join(str(i) for i in head.indices), dim=runner.hidden_size)
    backend = export.backend if threads is None else OnnxBackend(export.directory / export.info.model_file, list(runner.input_keys), threads)

    def states(batch: dict[str, Tensor]) -> Tensor:
        return torch.from_numpy(backend.run(batch))

    return states
