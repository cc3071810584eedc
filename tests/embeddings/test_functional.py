"""Properties of the pooling functions and modules: padding, masking, dtypes, purity."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bertkit.embeddings import functional as F
from bertkit.embeddings.pooling import PoolingInput, build_pooling, pooling_names

DTYPES = [torch.float32, torch.bfloat16, torch.float16]
H, L = 8, 3
STRATEGIES = pooling_names()


def _module(name: str, seed: int = 0):
    torch.manual_seed(seed)
    module = build_pooling(name, H, L).eval()
    for p in module.parameters():  # trained-looking, not the neutral initialisation
        torch.nn.init.normal_(p, std=0.5)
    return module


def _inputs(tokens, mask, hidden):
    pooler = torch.tanh(tokens[:, 0].float()).to(tokens.dtype)
    return PoolingInput(tokens, mask, hidden, pooler)


def _make(seed: int, batch: int, length: int, dtype):
    g = torch.Generator().manual_seed(seed)
    hidden = tuple((torch.randn(batch, length, H, generator=g) * 3).to(dtype) for _ in range(L + 1))
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    return hidden, mask


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    batch=st.integers(1, 4),
    length=st.integers(1, 7),
    extra=st.integers(1, 5),
    garbage=st.sampled_from(["zeros", "random", "huge", "nan"]),
    dtype=st.sampled_from(DTYPES),
)
def test_appending_padding_never_changes_any_strategy(seed, batch, length, extra, garbage, dtype):
    hidden, mask = _make(seed, batch, length, dtype)
    fill = {
        "zeros": lambda s: torch.zeros(s),
        "random": lambda s: torch.randn(s) * 50,
        "huge": lambda s: torch.full(s, 6.0e4),
        "nan": lambda s: torch.full(s, math.nan),
    }[garbage]
    padded_hidden = tuple(torch.cat([h, fill((batch, extra, H)).to(dtype)], dim=1) for h in hidden)
    padded_mask = torch.cat([mask, torch.zeros(batch, extra, dtype=mask.dtype)], dim=1)
    for name in STRATEGIES:
        module = _module(name)
        with torch.no_grad():
            a = module(_inputs(hidden[-1], mask, hidden))
            b = module(_inputs(padded_hidden[-1], padded_mask, padded_hidden))
        torch.testing.assert_close(a.vector, b.vector, msg=lambda m: f"{name} {dtype}: {m}")
        if a.token_weights is not None:
            torch.testing.assert_close(a.token_weights, b.token_weights[:, :length])
            assert torch.all(b.token_weights[:, length:] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", STRATEGIES)
def test_fully_masked_row_gives_zeros_not_nan(name, dtype):
    hidden, mask = _make(1, 3, 5, dtype)
    mask = mask.clone()
    mask[1] = 0
    with torch.no_grad():
        out = _module(name)(_inputs(hidden[-1], mask, hidden))
    assert not torch.isnan(out.vector).any()
    assert torch.all(out.vector[1] == 0)
    assert torch.any(out.vector[0] != 0)
    if out.token_weights is not None:
        assert torch.all(out.token_weights[1] == 0)
        torch.testing.assert_close(out.token_weights[0].sum().float(), torch.tensor(1.0))


@pytest.mark.parametrize("name", STRATEGIES)
def test_inputs_are_never_modified(name):
    hidden, mask = _make(2, 2, 6, torch.float32)
    before = [h.clone() for h in hidden], mask.clone()
    inputs = _inputs(hidden[-1], mask, hidden)
    pooler = inputs.pooler_output.clone()
    _module(name)(inputs)
    assert all(torch.equal(a, b) for a, b in zip(before[0], hidden))
    assert torch.equal(before[1], mask)
    assert torch.equal(pooler, inputs.pooler_output)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_fill_comes_from_dtype_range(dtype):
    # All real values are far below -1e4: a "-1e4" fill for padding would win the max.
    tokens = torch.full((1, 3, 2), -3.0e4).to(dtype)
    mask = torch.tensor([[1, 1, 0]])
    out = F.max_pool(tokens, mask)
    assert out.dtype == dtype
    assert torch.all(out == tokens[0, 0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_min_fill_comes_from_dtype_range(dtype):
    # All real values are positive: a "1e-4" fill for padding would win the min.
    tokens = torch.tensor([[[5.0, 2.0], [3.0, 7.0], [0.0, 0.0]]]).to(dtype)
    mask = torch.tensor([[1, 1, 0]])
    assert F.min_pool(tokens, mask).tolist() == [[3.0, 2.0]]
    big = torch.full((1, 2, 2), 6.0e4).to(dtype) if dtype != torch.bfloat16 else torch.full((1, 2, 2), 3.0e38).to(dtype)
    assert torch.all(F.min_pool(big, torch.tensor([[1, 0]])) == big[0, 0])


def test_mean_and_mean_sqrt_len_values():
    tokens = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert F.mean_pool(tokens, mask).tolist() == [[2.0, 4.0]]
    torch.testing.assert_close(F.mean_sqrt_len_pool(tokens, mask), torch.tensor([[4.0, 8.0]]) / math.sqrt(2))
    assert F.cls_pool(tokens, mask).tolist() == [[1.0, 2.0]]


def test_masked_softmax_matches_softmax_over_real_tokens():
    scores = torch.tensor([[1.0, 2.0, 3.0, 50.0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    torch.testing.assert_close(F.masked_softmax(scores, mask)[0, :3], torch.softmax(scores[0, :3], 0))
    # Large scores in half precision do not overflow.
    half = F.masked_softmax(torch.tensor([[6.0e4, 6.0e4]], dtype=torch.float16), torch.tensor([[1, 1]]))
    torch.testing.assert_close(half, torch.tensor([[0.5, 0.5]]))
