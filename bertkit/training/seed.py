"""Seeding: one call makes Python, NumPy and torch draws reproducible."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything", "epoch_rng"]


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """A generator that depends only on (seed, epoch): the same epoch always draws the same order."""
    return np.random.default_rng([int(seed), int(epoch)])
