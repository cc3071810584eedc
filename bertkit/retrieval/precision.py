"""Stored vector precisions: fp32, fp16, int8 (calibrated per dimension) and binary.

int8 and binary follow sentence-transformers' ``quantize_embeddings``: int8 maps each
dimension's [min, max] over the corpus (the calibration set) onto 256 buckets,
``int8 = (x - min) / ((max - min) / 255) - 128``; binary keeps the sign bit
(``x > 0``), packed 8 dimensions a byte (its "ubinary"). Queries stay fp32: a score is the
fp32 query times the dequantised passage vector, so an int8 score approximates the
cosine. Binary search ranks by Hamming distance and rescores its top candidates with the
int8 copy (see :func:`rescore`); no fp32 copy is kept (that would undo the saving).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bertkit.errors import ParameterError

__all__ = ["Quantizer", "truncate", "bytes_per_vector", "hamming", "check_precision"]


def truncate(vectors: np.ndarray, dim: int, normalize: bool) -> np.ndarray:
    """Matryoshka-style ``truncate_dim``: the first ``dim`` dimensions, renormalised. # (N, D) -> (N, dim)"""
    out = np.asarray(vectors, dtype=np.float32)[:, :dim]
    if normalize:
        out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(out, dtype=np.float32)


def bytes_per_vector(precision: str, dim: int) -> dict[str, int]:
    """Bytes one passage's vectors take: ``search`` (scanned per query) and ``total`` (on disk)."""
    search = {"fp32": 4 * dim, "fp16": 2 * dim, "int8": dim, "binary": dim // 8}[precision]
    total = search + (dim if precision == "binary" else 0)  # binary keeps an int8 copy for rescoring
    return {"search": search, "total": total}


@dataclass(frozen=True)
class Quantizer:
    """Turns fp32 vectors into the stored form and scores fp32 queries against it."""

    precision: str
    ranges: np.ndarray | None = None  # (2, D) float32 [min; max] per dimension (int8, binary)

    @classmethod
    def fit(cls, precision: str, vectors: np.ndarray) -> "Quantizer":
        """Calibrate on ``vectors`` (the corpus, as sentence-transformers does without a calibration set)."""
        if precision in ("int8", "binary"):
            ranges = np.stack([vectors.min(axis=0), vectors.max(axis=0)]).astype(np.float32)  # (2, D)
            return cls(precision, ranges)
        return cls(precision)

    @property
    def _steps(self) -> np.ndarray:
        lo, hi = self.ranges
        return np.maximum((hi - lo) / 255.0, 1e-12).astype(np.float32)  # (D,)

    def encode(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(stored vectors, int8 rescoring copy or None). # (N, D) -> (N, D) or (N, D/8) uint8"""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.precision == "fp32":
            return np.ascontiguousarray(vectors), None
        if self.precision == "fp16":
            return vectors.astype(np.float16), None
        q = np.clip(np.floor((vectors - self.ranges[0]) / self._steps) - 128, -128, 127).astype(np.int8)  # (N, D)
        if self.precision == "int8":
            return q, None
        return np.packbits(vectors > 0, axis=1), q  # (N, D/8) uint8, (N, D) int8

    def scores(self, queries: np.ndarray, block: np.ndarray) -> np.ndarray:
        """Query-passage scores for a block of stored vectors. # (Q, D) x (n, *) -> (Q, n)"""
        if self.precision == "fp32":
            return queries @ block.T
        if self.precision == "fp16":
            return queries @ block.astype(np.float32).T
        if self.precision == "int8":
            return self.int8_scores(queries, block)
        return -hamming(np.packbits(queries > 0, axis=1), block).astype(np.float32)

    def int8_scores(self, queries: np.ndarray, block: np.ndarray) -> np.ndarray:
        """fp32 query . dequantised int8 passage (``(q + 128) * step + min``). # (Q, D) x (n, D) -> (Q, n)"""
        scaled = queries * self._steps  # (Q, D)
        const = scaled.sum(axis=1, keepdims=True) * 128.0 + queries @ self.ranges[0][:, None]  # (Q, 1)
        return scaled @ block.astype(np.float32).T + const

    def dequantize(self, stored: np.ndarray, rescore: np.ndarray | None = None) -> np.ndarray:
        """fp32 approximations of stored vectors (to build an approximate graph). # -> (n, D)"""
        if self.precision in ("fp32", "fp16"):
            return stored.astype(np.float32)
        q = stored if self.precision == "int8" else rescore
        return (q.astype(np.float32) + 128.0) * self._steps + self.ranges[0]


def hamming(query_bits: np.ndarray, block_bits: np.ndarray) -> np.ndarray:
    """Hamming distances between packed bit vectors. # (Q, B) x (n, B) -> (Q, n) int"""
    out = np.empty((len(query_bits), len(block_bits)), dtype=np.int32)
    step = max(1, (1 << 24) // max(1, block_bits.shape[0] * block_bits.shape[1]))  # keep (q, n, B) near 16 MB
    for i in range(0, len(query_bits), step):
        xor = np.bitwise_xor(query_bits[i : i + step, None, :], block_bits[None, :, :])  # (q, n, B)
        out[i : i + step] = _popcount(xor).sum(axis=2, dtype=np.int32)
    return out


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits per byte (numpy >= 2 has it built in; a lookup table before)."""
    return np.bitwise_count(x) if hasattr(np, "bitwise_count") else _POPCOUNT[x]


def check_precision(precision: str, dim: int, model_dim: int) -> None:
    """Refuse an unknown precision or a dimension the model (or binary packing) cannot give."""
    from bertkit.retrieval.config import PRECISIONS

    if precision not in PRECISIONS:
        raise ParameterError("precision", f"unknown precision {precision!r}; valid options: {', '.join(PRECISIONS)}")
    if not 1 <= dim <= model_dim:
        raise ParameterError("dim", f"dim {dim} out of range: the encoder gives {model_dim}-dimensional vectors (use 1..{model_dim})")
    if precision == "binary" and dim % 8:
        raise ParameterError("dim", f"binary precision packs 8 dimensions a byte: dim {dim} must be a multiple of 8")
