"""Length-sorted batching with dynamic padding.

Sorting texts by token count before batching means each batch is padded only to its
own longest member, which is where most of the speed over naive batching comes from.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch loads in pad_batch only: pad_arrays serves the torch-free ONNX fast path
    import torch

__all__ = ["length_sorted_batches", "pad_arrays", "pad_batch", "encoding_features"]


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None = None
) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first.

    A batch holds at most ``batch_size`` items and, when ``max_tokens`` is given, at most
    ``max_tokens`` padded tokens (batch size x longest length); a single item longer
    than the budget still gets a batch of its own.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order.tolist():
        length = int(lengths[i])
        new_longest = max(longest, length)
        too_many = len(current) >= batch_size
        too_big = max_tokens is not None and current and new_longest * (len(current) + 1) > max_tokens
        if current and (too_many or too_big):
            batches.append(current)
            current, new_longest = [], length
        current.append(i)
        longest = new_longest
    if current:
        batches.append(current)
    return batches


def pad_batch(
    features: Sequence[dict[str, Sequence[int]]], pad_token_id: int, keys: Sequence[str], multiple: int = 1, cap: int | None = None
) -> dict[str, torch.Tensor]:
    """Right-pad lists of ids to the batch's longest item, rounded up to ``multiple`` (at most
    ``cap``): fewer distinct shapes, so fewer kernels for oneDNN's bf16 to set up. # -> each (B, T) int64"""
    import torch

    return {key: torch.from_numpy(arr) for key, arr in pad_arrays(features, pad_token_id, keys, multiple, cap).items()}


def pad_arrays(
    features: Sequence[dict[str, Sequence[int]]], pad_token_id: int, keys: Sequence[str], multiple: int = 1, cap: int | None = None
) -> dict[str, np.ndarray]:
    """:func:`pad_batch` as numpy arrays (what ONNX Runtime is fed). # -> each (B, T) int64"""
    lengths = np.fromiter((len(f["input_ids"]) for f in features), dtype=np.int64, count=len(features))
    width = int(lengths.max())
    if multiple > 1:
        width = max(width, min(-(-width // multiple) * multiple, cap or width))
    filled = np.arange(width)[None, :] < lengths[:, None]  # (B, T): True on real tokens
    out: dict[str, np.ndarray] = {}
    for key in keys:
        fill = pad_token_id if key == "input_ids" else 0
        arr = np.full(filled.shape, fill, dtype=np.int64)
        arr[filled] = np.fromiter(itertools.chain.from_iterable(f[key] for f in features), dtype=np.int64, count=int(lengths.sum()))
        out[key] = arr
    return out


def encoding_features(encodings: Sequence, input_keys: Sequence[str]) -> tuple[list[dict[str, list[int]]], int]:
    """(one feature dict per Rust-tokenizer ``Encoding``, how many were truncated): ids, token
    types where the model takes them, and the attention mask."""
    types = "token_type_ids" in input_keys
    features, truncated = [], 0
    for e in encodings:
        f = {"input_ids": e.ids}
        if types:
            f["token_type_ids"] = e.type_ids
        f["attention_mask"] = e.attention_mask
        features.append(f)
        truncated += bool(e.overflowing)
    return features, truncated
