"""Pooling strategies as modules, chosen by name from a registry.

``build_pooling("mean+max", hidden_size=384, num_layers=6)`` gives a module that maps a
:class:`PoolingInput` to a :class:`PoolingOutput` of shape (B, D). Strategies:

============== ==================================================================
cls            the first token's state
pooler         the model's own pooler output (dense + tanh over [CLS]); error if the
               model has none or its checkpoint holds no trained pooler weights
mean           mean over real tokens
max / min      element-wise max / min over real tokens
mean_sqrt_len  sum over real tokens / sqrt(token count)
weighted_layer learned softmax weights over hidden layers ``layer_start..L``, then a
               mean over tokens; untrained it is the uniform average of those layers
attention      learned token scorer (Linear, LayerNorm, GELU, Linear) and a masked
               softmax; returns the per-token weights; untrained (zero last layer)
               every token weighs the same, i.e. it starts as mean pooling
============== ==================================================================

``a+b`` concatenates strategies (``mean+max`` has dimension 2H).

The set is closed: :data:`PoolingName` lists every name, and a pooling must be
rebuilt by name from a saved model directory, so a strategy defined outside bertkit
could not be loaded back. Each strategy states its own output size
(:attr:`Pooling.output_dim`) and how the vectors of a long text's windows combine
(:attr:`Pooling.window_rule`, see ``windows.py``); nothing outside this file needs a
strategy's name to know either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from bertkit.embeddings import functional as F
from bertkit.embeddings.names import POOLING_NAMES, PoolingName, pooling_names, split_pooling_spec  # torch-free, checked before loading
from bertkit.errors import UsageError

__all__ = [
    "PoolingName",
    "POOLING_NAMES",
    "PoolingInput",
    "PoolingOutput",
    "Pooling",
    "pooling_names",
    "build_pooling",
    "split_pooling_spec",
]



@dataclass
class PoolingInput:
    tokens: Tensor  # (B, T, H) token states of the selected layer(s)
    mask: Tensor  # (B, T) 1 = real token, 0 = padding
    hidden_states: tuple[Tensor, ...] | None = None  # (L+1) x (B, T, H), when requested
    pooler_output: Tensor | None = None  # (B, H), when the model has a trained pooler


@dataclass
class PoolingOutput:
    vector: Tensor  # (B, D)
    token_weights: Tensor | None = None  # (B, T) for attention pooling


class Pooling(nn.Module):
    """Base class: subclasses set ``name`` and implement ``forward``."""

    name: str = ""
    needs_hidden_states: bool = False  # True when every layer's states are needed
    needs_pooler: bool = False
    window_rule: ClassVar[str] = "mean"  # long texts: "mean" (token-weighted), "max" or "min" over windows

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size

    @classmethod
    def build(cls, hidden_size: int, num_layers: int, layer_start: int | None = None) -> "Pooling":
        """The strategy for a model of this size (``layer_start`` is for layer mixes only)."""
        return cls(hidden_size)

    def window_rules(self) -> list[tuple[int, str]]:
        """(width, rule) per block of the output vector: how window vectors combine."""
        return [(self.output_dim, self.window_rule)]

    @property
    def output_dim(self) -> int:
        return self.hidden_size

    @property
    def spec(self) -> str:
        return self.name

    def forward(self, inputs: PoolingInput) -> PoolingOutput:  # pragma: no cover - abstract
        raise NotImplementedError


_POOLINGS: dict[str, type[Pooling]] = {}


def _strategy(name: PoolingName) -> Callable:
    """Class decorator: the strategy behind ``name`` (one of :data:`PoolingName`)."""

    def decorate(cls):
        assert name in POOLING_NAMES, name
        cls.name = name
        _POOLINGS[name] = cls
        return cls

    return decorate


class _Statistic(Pooling):
    fn: Callable[[Tensor, Tensor], Tensor]

    def forward(self, inputs: PoolingInput) -> PoolingOutput:
        return PoolingOutput(type(self).fn(inputs.tokens, inputs.mask))


@_strategy("cls")
class ClsPooling(_Statistic):
    fn = staticmethod(F.cls_pool)


@_strategy("mean")
class MeanPooling(_Statistic):
    fn = staticmethod(F.mean_pool)


@_strategy("max")
class MaxPooling(_Statistic):
    fn = staticmethod(F.max_pool)
    window_rule = "max"  # the max over windows is the max over all tokens


@_strategy("min")
class MinPooling(_Statistic):
    fn = staticmethod(F.min_pool)
    window_rule = "min"


@_strategy("mean_sqrt_len")
class MeanSqrtLenPooling(_Statistic):
    fn = staticmethod(F.mean_sqrt_len_pool)


@_strategy("pooler")
class PoolerPooling(Pooling):
    needs_pooler = True

    def forward(self, inputs: PoolingInput) -> PoolingOutput:
        if inputs.pooler_output is None:
            raise UsageError(
                "pooling 'pooler' needs the model's trained pooler (dense + tanh), and this model has none; "
                f"use another pooling: {', '.join(n for n in POOLING_NAMES if n != 'pooler')}"
            )
        return PoolingOutput(F.cls_pool(inputs.pooler_output.unsqueeze(1), inputs.mask[:, :1]))


@_strategy("weighted_layer")
class WeightedLayerPooling(Pooling):
    """Softmax-normalised learned weights over layers ``layer_start..L``, then mean over tokens."""

    needs_hidden_states = True

    def __init__(self, hidden_size: int, num_layers: int, layer_start: int | None = None) -> None:
        super().__init__(hidden_size)
        layer_start = max(1, num_layers // 2) if layer_start is None else int(layer_start)
        if not 0 <= layer_start <= num_layers:
            raise UsageError(f"weighted_layer layer_start {layer_start} out of range 0..{num_layers}")
        self.num_layers = num_layers
        self.layer_start = layer_start
        self.layer_logits = nn.Parameter(torch.zeros(num_layers + 1 - layer_start))

    @classmethod
    def build(cls, hidden_size: int, num_layers: int, layer_start: int | None = None) -> "WeightedLayerPooling":
        return cls(hidden_size, num_layers, layer_start)

    def layer_weights(self) -> Tensor:
        return torch.softmax(self.layer_logits.float(), dim=0)  # (K,)

    def forward(self, inputs: PoolingInput) -> PoolingOutput:
        if inputs.hidden_states is None:
            raise ValueError("weighted_layer pooling needs hidden_states of every layer")
        layers = torch.stack(inputs.hidden_states[self.layer_start :], dim=0)  # (K, B, T, H)
        w = self.layer_weights().to(layers.device)
        mixed = torch.einsum("kbth,k->bth", layers.float(), w).to(inputs.tokens.dtype)  # (B, T, H)
        return PoolingOutput(F.mean_pool(mixed, inputs.mask))


@_strategy("attention")
class AttentionPooling(Pooling):
    """A learned scorer gives each token a weight (masked softmax); the vector is the weighted sum."""

    def __init__(self, hidden_size: int, scorer_size: int | None = None) -> None:
        super().__init__(hidden_size)
        inner = scorer_size or hidden_size
        self.scorer = nn.Sequential(
            nn.Linear(hidden_size, inner), nn.LayerNorm(inner), nn.GELU(), nn.Linear(inner, 1)
        )
        # Zero last layer: untrained, all tokens weigh the same (mean pooling).
        nn.init.zeros_(self.scorer[-1].weight)
        nn.init.zeros_(self.scorer[-1].bias)

    def forward(self, inputs: PoolingInput) -> PoolingOutput:
        keep = inputs.mask.bool().unsqueeze(-1)  # (B, T, 1)
        tokens = torch.where(keep, inputs.tokens, torch.zeros((), dtype=inputs.tokens.dtype, device=inputs.tokens.device))
        scorer_dtype = self.scorer[0].weight.dtype
        scores = self.scorer(tokens.to(scorer_dtype)).squeeze(-1)  # (B, T)
        weights = F.masked_softmax(scores, inputs.mask)  # (B, T)
        return PoolingOutput(F.weighted_sum(tokens, weights), token_weights=weights)


class CombinedPooling(Pooling):
    """``a+b+...``: strategies side by side, concatenated."""

    def __init__(self, parts: list[Pooling]) -> None:
        super().__init__(parts[0].hidden_size)
        self.parts = nn.ModuleList(parts)
        self.needs_hidden_states = any(p.needs_hidden_states for p in parts)
        self.needs_pooler = any(p.needs_pooler for p in parts)

    @property
    def output_dim(self) -> int:
        return sum(p.output_dim for p in self.parts)

    @property
    def spec(self) -> str:
        return "+".join(p.name for p in self.parts)

    def window_rules(self) -> list[tuple[int, str]]:
        return [rule for p in self.parts for rule in p.window_rules()]

    def forward(self, inputs: PoolingInput) -> PoolingOutput:
        outs = [p(inputs) for p in self.parts]
        weights = next((o.token_weights for o in outs if o.token_weights is not None), None)
        return PoolingOutput(torch.cat([o.vector for o in outs], dim=-1), token_weights=weights)


def build_pooling(spec: str, hidden_size: int, num_layers: int, *, layer_start: int | None = None) -> Pooling:
    """Build the pooling module named by ``spec`` (``+`` concatenates strategies)."""

    parts = [_POOLINGS[n].build(hidden_size, num_layers, layer_start) for n in split_pooling_spec(spec)]
    return parts[0] if len(parts) == 1 else CombinedPooling(parts)
