"""Layer selection: which hidden layers token vectors are read from.

Indices follow transformers' ``hidden_states``: 0 is the embedding output, 1..L the
transformer layers, negative indices count from the last layer (-1 is the last).
Several selected layers are averaged.

Spec grammar: ``-1`` | ``-2`` | ``0`` (an index) · ``-4:`` | ``2:5`` (a Python-style
range) · ``-1,-2`` (a list) · ``all`` (every transformer layer, 1..L, not the
embedding output).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from bertkit.errors import UsageError

__all__ = ["LayerSelection", "parse_layers"]

_HELP = "an index like -1 or 0, a range like -4: or 2:5, a list like -1,-2, or all"


@dataclass(frozen=True)
class LayerSelection:
    """Resolved layer indices into ``hidden_states`` (length L + 1)."""

    spec: str
    indices: tuple[int, ...]
    num_layers: int

    @property
    def last_only(self) -> bool:
        """True when only the last layer is used (no need for all hidden states)."""
        return self.indices == (self.num_layers,)

    def select(self, hidden_states: tuple[Tensor, ...] | list[Tensor]) -> Tensor:
        """Mean of the selected layers. # (L+1) x (B, T, H) -> (B, T, H)"""
        if len(self.indices) == 1:
            return hidden_states[self.indices[0]]
        stacked = torch.stack([hidden_states[i] for i in self.indices], dim=0)  # (K, B, T, H)
        return stacked.to(torch.float32).mean(dim=0).to(hidden_states[-1].dtype)


def _index(token: str, spec: str, num_layers: int) -> int:
    try:
        i = int(token)
    except ValueError:
        raise UsageError(f"malformed layer spec {spec!r}; valid: {_HELP}") from None
    n = num_layers + 1
    if not -n <= i < n:
        raise UsageError(
            f"layer {i} out of range in {spec!r}: the model has {num_layers} layers "
            f"(indices 0..{num_layers}, 0 = embedding output, or -1..-{n})"
        )
    return i % n


def parse_layers(spec: str | int, num_layers: int) -> LayerSelection:
    """Parse a layer spec for a model with ``num_layers`` transformer layers."""
    spec = str(spec).strip()
    n = num_layers + 1
    if spec == "all":
        indices = tuple(range(1, n))
    elif ":" in spec:
        parts = spec.split(":")
        if len(parts) != 2:
            raise UsageError(f"malformed layer spec {spec!r}; valid: {_HELP}")
        start = _index(parts[0], spec, num_layers) if parts[0].strip() else 0
        if parts[1].strip():
            stop_raw = int(parts[1]) if parts[1].strip().lstrip("-").isdigit() else None
            if stop_raw is None:
                raise UsageError(f"malformed layer spec {spec!r}; valid: {_HELP}")
            stop = stop_raw % n if stop_raw < 0 else min(stop_raw, n)
        else:
            stop = n
        indices = tuple(range(start, stop))
    elif "," in spec:
        indices = tuple(_index(t.strip(), spec, num_layers) for t in spec.split(","))
    else:
        indices = (_index(spec, spec, num_layers),)
    if not indices:
        raise UsageError(f"layer spec {spec!r} selects no layer (the model has {num_layers} layers)")
    return LayerSelection(spec=spec, indices=indices, num_layers=num_layers)
