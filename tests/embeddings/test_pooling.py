"""The pooling registry is closed: a Literal of names, each strategy stating its size and window rule."""

from __future__ import annotations

from typing import get_args

import pytest
import torch

import bertkit
import bertkit.embeddings
from bertkit.embeddings.pooling import POOLING_NAMES, Pooling, PoolingInput, PoolingName, build_pooling, pooling_names
from bertkit.errors import UsageError


def test_names_are_the_literal_and_each_builds():
    assert tuple(pooling_names()) == POOLING_NAMES == get_args(PoolingName)
    for name in POOLING_NAMES:
        pooling = build_pooling(name, 8, 3)
        assert isinstance(pooling, Pooling) and pooling.spec == name and pooling.output_dim == 8


def test_registration_is_not_public():
    for module in (bertkit, bertkit.embeddings, bertkit.embeddings.pooling):
        assert "register_pooling" not in getattr(module, "__all__", ())
        assert not hasattr(module, "register_pooling")
    with pytest.raises(UsageError, match="unknown pooling 'median'; valid options: cls, mean"):
        build_pooling("median", 8, 3)


def test_window_rules_come_from_the_strategies():
    pooling = build_pooling("mean+max+attention+min+weighted_layer", 4, 3, layer_start=2)
    assert pooling.window_rules() == [(4, "mean"), (4, "max"), (4, "mean"), (4, "min"), (4, "mean")]
    assert sum(width for width, _ in pooling.window_rules()) == pooling.output_dim == 20
    assert pooling.parts[-1].layer_start == 2  # weighted_layer's option reaches it without a name check


def test_a_combined_pooling_runs():
    hidden = tuple(torch.randn(2, 5, 4) for _ in range(4))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    out = build_pooling("max+weighted_layer", 4, 3)(PoolingInput(hidden[-1], mask, hidden))
    assert out.vector.shape == (2, 8)
