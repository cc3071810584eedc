"""Combining the selected encoder layers into one vector per word.

``mean`` and ``sum`` average / add the layers, ``concat`` joins them (K x wider),
``weighted`` is a learned scalar mix (softmax weights and a scale, as in ELMo), which
stays trainable on top of cached per-layer states.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["LAYER_COMBINES", "LayerMix", "combined_dim"]

LAYER_COMBINES = ("mean", "sum", "concat", "weighted")


def combined_dim(combine: str, num_layers: int, width: int) -> int:
    """Output width for ``num_layers`` selected layers of ``width`` features each."""
    return num_layers * width if combine == "concat" else width


class LayerMix(nn.Module):
    """# (..., K, H) -> (..., D)"""

    def __init__(self, combine: str, num_layers: int) -> None:
        super().__init__()
        if combine not in LAYER_COMBINES:
            raise ValueError(f"unknown layer_combine {combine!r}; valid options: {', '.join(LAYER_COMBINES)}")
        self.combine = combine
        self.num_layers = num_layers
        if combine == "weighted":
            self.weights = nn.Parameter(torch.zeros(num_layers))  # softmax -> uniform at start
            self.scale = nn.Parameter(torch.ones(()))

    def forward(self, states: Tensor) -> Tensor:
        if self.combine == "mean":
            return states.mean(dim=-2)
        if self.combine == "sum":
            return states.sum(dim=-2)
        if self.combine == "concat":
            return states.flatten(-2)
        mix = torch.softmax(self.weights, dim=0).to(states.dtype)  # (K,)
        return self.scale * torch.einsum("...kh,k->...h", states, mix)
