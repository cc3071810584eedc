"""Shuffled, length-grouped batches: random order each epoch, little padding in each batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bertkit.training.seed import epoch_rng

__all__ = ["grouped_batches"]


def grouped_batches(
    lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int, pool: int = 50
) -> list[list[int]]:
    """Index batches for one epoch, seeded by ``(seed, epoch)``.

    Indices are shuffled, cut into pools of ``pool * batch_size``, each pool is sorted by
    length and cut into batches, and the batch order is shuffled: batches hold texts of
    similar length (cheap padding) yet every epoch sees a different random order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rng = epoch_rng(seed, epoch)
    lengths_arr = np.asarray(lengths, dtype=np.int64)
    order = rng.permutation(len(lengths_arr))
    span = max(1, pool) * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(-lengths_arr[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]
