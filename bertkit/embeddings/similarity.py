"""Scoring embeddings on labelled pairs (STS-style): Spearman correlation of cosine similarity
with gold scores, the usual measure of a sentence-embedding model (what ``Embedder.evaluate``
reports), and the typed per-text result of ``Embedder.predict_batch``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bertkit.errors import InputError

__all__ = ["Embedding", "check_scored_pairs", "cosine_rows", "spearman"]


@dataclass(frozen=True)
class Embedding:
    """One text's vector (``Embedder.predict_batch``). # vector: (D,) float32"""

    vector: np.ndarray

    def to_dict(self) -> dict:
        return {"vector": [float(v) for v in self.vector]}


def check_scored_pairs(data: Sequence) -> tuple[list[str], list[str], np.ndarray]:
    """``(text_a, text_b, score)`` rows -> the two text lists and the scores (N,); one line naming a bad row."""
    first, second, scores = [], [], []
    for i, row in enumerate(data):
        if not isinstance(row, (tuple, list)) or len(row) != 3:
            raise InputError(f"row {i + 1}: expected (text_a, text_b, score), got {type(row).__name__}")
        a, b, score = row
        if not isinstance(a, str) or not isinstance(b, str):
            raise InputError(f"row {i + 1}: the two texts must be strings")
        try:
            value = float(score)
        except (TypeError, ValueError):
            raise InputError(f"row {i + 1}: score {score!r} is not a number") from None
        if not np.isfinite(value):
            raise InputError(f"row {i + 1}: score {score!r} is not a finite number")
        first.append(a), second.append(b), scores.append(value)
    if len(scores) < 2:
        raise InputError(f"evaluation needs at least 2 scored pairs, got {len(scores)}")
    return first, second, np.asarray(scores, dtype=np.float64)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity. # (N, D), (N, D) -> (N,)"""
    a, b = a.astype(np.float64), b.astype(np.float64)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return (a * b).sum(axis=1) / norms


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..N, ties sharing their average rank. # (N,) -> (N,)"""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    values, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=len(values))
    counts = np.bincount(inverse, minlength=len(values))
    return (sums / counts)[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson's r of the tie-averaged ranks); 0.0 when either is constant."""
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / denom) if denom > 0 else 0.0
