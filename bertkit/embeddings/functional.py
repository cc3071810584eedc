"""Pure, masked pooling functions over token states.

Conventions: ``tokens`` is (B, T, H), ``mask`` is (B, T) with 1 (or True) for real
tokens and 0 for padding. No function edits its inputs; every result is a new tensor.
Padding never changes a result: padded positions are selected away with ``torch.where``
(so even NaN or inf in padding cannot leak), max/min fill values come from the dtype's
own range, and a row with no real token at all pools to zeros, never NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "cls_pool",
    "mean_pool",
    "max_pool",
    "min_pool",
    "mean_sqrt_len_pool",
    "masked_softmax",
    "weighted_sum",
    "token_counts",
]


def _bool_mask(mask: Tensor) -> Tensor:
    return mask.bool()  # (B, T)


def token_counts(mask: Tensor) -> Tensor:
    """Number of real tokens per row, as float32. # (B, 1)"""
    return _bool_mask(mask).sum(dim=1, keepdim=True).to(torch.float32)


def _zero_empty_rows(pooled: Tensor, mask: Tensor) -> Tensor:
    """Rows whose mask is all zero become zeros. # (B, H)"""
    has_token = _bool_mask(mask).any(dim=1, keepdim=True)  # (B, 1)
    return torch.where(has_token, pooled, torch.zeros((), dtype=pooled.dtype, device=pooled.device))


def cls_pool(tokens: Tensor, mask: Tensor) -> Tensor:
    """The first token's state ([CLS] / <s>). # (B, T, H) -> (B, H)"""
    return _zero_empty_rows(tokens[:, 0], mask)


def _masked_sum(tokens: Tensor, mask: Tensor) -> Tensor:
    keep = _bool_mask(mask).unsqueeze(-1)  # (B, T, 1)
    zeros = torch.zeros((), dtype=tokens.dtype, device=tokens.device)
    # Accumulate in float32 so bf16/fp16 sums over long sequences stay accurate.
    return torch.where(keep, tokens, zeros).sum(dim=1, dtype=torch.float32)  # (B, H)


def mean_pool(tokens: Tensor, mask: Tensor) -> Tensor:
    """Mean over real tokens. # (B, T, H) -> (B, H)"""
    pooled = _masked_sum(tokens, mask) / token_counts(mask).clamp(min=1.0)
    return pooled.to(tokens.dtype)


def mean_sqrt_len_pool(tokens: Tensor, mask: Tensor) -> Tensor:
    """Sum over real tokens divided by sqrt(number of tokens). # (B, T, H) -> (B, H)"""
    pooled = _masked_sum(tokens, mask) / token_counts(mask).clamp(min=1.0).sqrt()
    return pooled.to(tokens.dtype)


def max_pool(tokens: Tensor, mask: Tensor) -> Tensor:
    """Element-wise max over real tokens; padding filled with the dtype's lowest value.

    # (B, T, H) -> (B, H)
    """
    keep = _bool_mask(mask).unsqueeze(-1)  # (B, T, 1)
    lowest = torch.tensor(torch.finfo(tokens.dtype).min, dtype=tokens.dtype, device=tokens.device)
    return _zero_empty_rows(torch.where(keep, tokens, lowest).amax(dim=1), mask)


def min_pool(tokens: Tensor, mask: Tensor) -> Tensor:
    """Element-wise min over real tokens; padding filled with the dtype's highest value.

    # (B, T, H) -> (B, H)
    """
    keep = _bool_mask(mask).unsqueeze(-1)  # (B, T, 1)
    highest = torch.tensor(torch.finfo(tokens.dtype).max, dtype=tokens.dtype, device=tokens.device)
    return _zero_empty_rows(torch.where(keep, tokens, highest).amin(dim=1), mask)


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over real tokens only; a fully masked row gives all-zero weights.

    Computed in float32 and without a finite "-1e4" fill: padded scores are excluded
    with -inf, and rows with no real token are zeroed instead of producing NaN.
    # (B, T) -> (B, T)
    """
    keep = _bool_mask(mask)  # (B, T)
    scores = scores.to(torch.float32)
    neg_inf = torch.tensor(float("-inf"), device=scores.device)
    masked = torch.where(keep, scores, neg_inf)
    row_max = masked.amax(dim=1, keepdim=True)  # (B, 1); -inf on empty rows
    row_max = torch.where(torch.isfinite(row_max), row_max, torch.zeros_like(row_max))
    exp = torch.where(keep, (masked - row_max).exp(), torch.zeros_like(scores))
    denom = exp.sum(dim=1, keepdim=True)
    return exp / denom.clamp(min=torch.finfo(torch.float32).tiny)


def weighted_sum(tokens: Tensor, weights: Tensor) -> Tensor:
    """Sum of token states weighted per token. # (B, T, H), (B, T) -> (B, H)"""
    return torch.einsum("bth,bt->bh", tokens.to(torch.float32), weights.to(torch.float32)).to(tokens.dtype)
