"""The names an embedding request is spelled with, checkable without torch.

``bertkit embed --pooling avg`` must fail in a fraction of a second, so the pooling
and long-text mode names (and the check of a ``mean+max`` spec) live here, apart from
the torch modules that implement them (``pooling.py`` registers one class per name).
"""

from __future__ import annotations

from typing import Literal, get_args

from bertkit.errors import UsageError, choice_error

__all__ = ["PoolingName", "POOLING_NAMES", "LONG_MODES", "pooling_names", "split_pooling_spec"]

PoolingName = Literal["cls", "mean", "max", "min", "mean_sqrt_len", "pooler", "weighted_layer", "attention"]
POOLING_NAMES: tuple[str, ...] = get_args(PoolingName)
LONG_MODES = ("truncate", "window")  # texts over the max length: cut, or overlapping windows


def pooling_names() -> list[str]:
    return list(POOLING_NAMES)


def split_pooling_spec(spec: str) -> list[str]:
    """Validate ``spec`` ("mean", "mean+max") and return its parts."""
    if not isinstance(spec, str) or not spec.strip():
        raise choice_error("pooling", spec, pooling_names())
    parts = [p.strip() for p in spec.split("+")]
    for p in parts:
        if p not in POOLING_NAMES:
            raise choice_error("pooling", p, pooling_names())
    if len(set(parts)) != len(parts):
        raise UsageError(f"pooling {spec!r} repeats a strategy")
    return parts
