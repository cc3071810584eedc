"""The passages of an index as columns: keys, vectors, ids, texts, spans, metadata.

A table is never changed in place: :meth:`Table.concat` and :meth:`Table.select` return
new tables, so a search that took a table keeps a consistent view while a writer adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Table"]


@dataclass(frozen=True)
class Table:
    keys: np.ndarray  # (N,) int64, increasing
    vectors: np.ndarray  # (N, D) fp32/fp16/int8 or (N, D/8) uint8 (binary)
    rescore: np.ndarray | None  # (N, D) int8 (binary only)
    passage_ids: list[str]
    doc_ids: list[str]
    texts: list[str]
    starts: np.ndarray  # (N,) int64
    ends: np.ndarray  # (N,) int64
    metadata: list[dict]
    cache: dict = field(default_factory=dict, compare=False)  # lazily built views (BM25, field columns)

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def empty_like(cls, vectors: np.ndarray, rescore: np.ndarray | None) -> "Table":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, vectors[:0], None if rescore is None else rescore[:0], [], [], [], z, z, [])

    def concat(self, other: "Table") -> "Table":
        return Table(
            np.concatenate([self.keys, other.keys]),
            np.concatenate([self.vectors, other.vectors]),
            None if self.rescore is None else np.concatenate([self.rescore, other.rescore]),
            self.passage_ids + other.passage_ids,
            self.doc_ids + other.doc_ids,
            self.texts + other.texts,
            np.concatenate([self.starts, other.starts]),
            np.concatenate([self.ends, other.ends]),
            self.metadata + other.metadata,
        )

    def select(self, keep: np.ndarray) -> "Table":
        """The rows where ``keep`` (N,) bool is True."""
        rows = np.flatnonzero(keep)
        pick = lambda xs: [xs[i] for i in rows]  # noqa: E731
        return Table(
            self.keys[rows], self.vectors[rows], None if self.rescore is None else self.rescore[rows],
            pick(self.passage_ids), pick(self.doc_ids), pick(self.texts), self.starts[rows], self.ends[rows], pick(self.metadata),
        )

    def rows_of_keys(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key (keys are sorted), -1 for a key not in the table. # (..., ) -> (...)"""
        keys = np.asarray(keys, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.keys, keys), 0, max(0, len(self.keys) - 1))
        hit = (keys >= 0) & (len(self.keys) > 0) & (self.keys[pos] == keys if len(self.keys) else False)
        return np.where(hit, pos, -1)

    def documents(self) -> int:
        return len(set(self.doc_ids))
