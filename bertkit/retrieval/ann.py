"""Approximate search through usearch's HNSW graph (one file, its own format: nothing unpickled).

The graph is keyed by passage keys (never reused); its candidates are rescored from the
stored vectors by the caller, so scores are the same whichever backend found them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

__all__ = ["AnnGraph"]

_DTYPES = {"fp32": "f32", "fp16": "f16", "int8": "i8", "binary": "b1"}


class AnnGraph:
    """An HNSW graph over passage vectors; safe to share between threads (one lock)."""

    def __init__(self, precision: str, dim: int, normalize: bool = True, graph=None) -> None:
        from usearch.index import Index as _Usearch

        self.precision = precision
        if graph is None:
            if precision == "binary":
                graph = _Usearch(ndim=dim, metric="hamming", dtype="b1")
            else:
                metric = "cos" if normalize or precision == "int8" else "ip"
                graph = _Usearch(ndim=dim, metric=metric, dtype=_DTYPES[precision], connectivity=16,
                                 expansion_add=128, expansion_search=64)
        self._graph = graph
        self._lock = threading.Lock()

    @classmethod
    def restore(cls, path: Path, precision: str, dim: int) -> "AnnGraph":
        from usearch.index import Index as _Usearch

        graph = _Usearch.restore(str(path))
        if graph is None or graph.ndim != dim:
            from bertkit.errors import ModelLoadError

            raise ModelLoadError(f"{path}: not a usearch graph of {dim}-dimensional vectors")
        return cls(precision, dim, graph=graph)

    def __len__(self) -> int:
        return len(self._graph)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert ``vectors`` (fp32, or packed bits for binary) under ``keys``. # (n,), (n, D)"""
        if len(keys):
            with self._lock:
                self._graph.add(np.asarray(keys, dtype=np.uint64), vectors, threads=0)

    def remove(self, keys: np.ndarray) -> None:
        if len(keys):
            with self._lock:
                self._graph.remove(np.asarray(keys, dtype=np.uint64))

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Candidate keys per query, best first, -1 where fewer were found. # (Q, D) -> (Q, k)"""
        if not len(self._graph) or not len(queries):
            return np.full((len(queries), 0), -1, dtype=np.int64)
        k = min(k, len(self._graph))
        with self._lock:
            found = self._graph.search(queries, k, threads=0)
        keys = np.asarray(found.keys, dtype=np.int64).reshape(len(queries), -1)  # (Q, k)
        counts = np.asarray(getattr(found, "counts", [keys.shape[1]] * len(queries))).reshape(-1)
        return np.where(np.arange(keys.shape[1])[None, :] < counts[:, None], keys, -1)

    def save(self, path: Path) -> None:
        with self._lock:
            self._graph.save(str(path))

    def expansion_search(self, value: int) -> None:
        """Candidates the graph walk keeps (higher: better recall, slower)."""
        with self._lock:
            self._graph.expansion_search = int(value)
