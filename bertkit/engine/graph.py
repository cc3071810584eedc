"""The embedding computation as one module: encoder, layer selection and pooling.

Inputs are the padded id tensors, the output the pooled vector, which is what an ONNX
export needs (and what the torch backend runs under autocast).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bertkit.embeddings.layers import LayerSelection
from bertkit.embeddings.pooling import Pooling, PoolingInput

__all__ = ["EmbeddingGraph"]


class EmbeddingGraph(nn.Module):
    """ids -> pooled vector. # (B, T) x 2-3 -> (B, D)"""

    def __init__(self, model: nn.Module, layers: LayerSelection, pooling: Pooling, input_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.layers = layers
        self.pooling = pooling
        self.input_names = list(input_names)
        self.hidden_states = pooling.needs_hidden_states or not layers.last_only

    def forward(self, *inputs: Tensor) -> Tensor:
        kwargs = dict(zip(self.input_names, inputs))
        out = self.model(**kwargs, output_hidden_states=self.hidden_states, return_dict=True)
        hidden = tuple(out.hidden_states) if self.hidden_states else None
        tokens = self.layers.select(hidden) if hidden is not None else out.last_hidden_state
        pooler = getattr(out, "pooler_output", None) if self.pooling.needs_pooler else None
        result = self.pooling(PoolingInput(tokens, kwargs["attention_mask"], hidden, pooler))
        return result.vector.to(torch.float32)
