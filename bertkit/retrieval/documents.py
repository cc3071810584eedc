"""Documents in, passage table out: checking ids and metadata, splitting and embedding."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from bertkit.errors import ParameterError
from bertkit.retrieval.encoding import embed_vectors
from bertkit.retrieval.table import Table

__all__ = ["check_documents", "make_table"]


def check_documents(texts, ids=None, metadata=None, *, start: int = 0, taken: set | None = None):
    """(texts, ids, metadata) as lists, refusing what an index cannot hold, with the argument named.

    ``ids`` default to ``str(start + i)``; ids must be unique (and not in ``taken``);
    metadata entries are JSON objects (or None).
    """
    if isinstance(texts, str):
        raise ParameterError("texts", "texts must be a list of documents, not one string")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ParameterError("texts", f"document {i} is {type(t).__name__}, expected str")
    taken = taken or set()
    if ids is None:
        ids, n = [], start
        for _ in texts:
            while str(n) in taken:
                n += 1
            ids.append(str(n))
            n += 1
    ids = [str(i) if isinstance(i, (int, np.integer)) and not isinstance(i, bool) else i for i in ids]
    if len(ids) != len(texts):
        raise ParameterError("ids", f"{len(ids)} ids for {len(texts)} documents")
    seen: set = set()
    for i in ids:
        if not isinstance(i, str) or not i:
            raise ParameterError("ids", f"document ids must be non-empty strings, got {i!r}")
        if i in seen or i in taken:
            raise ParameterError("ids", f"duplicate document id {i!r}" + (" (already in the index)" if i in taken else ""))
        seen.add(i)
    metadata = [{} for _ in texts] if metadata is None else [dict(m) if m is not None else {} for m in metadata]
    if len(metadata) != len(texts):
        raise ParameterError("metadata", f"{len(metadata)} metadata entries for {len(texts)} documents")
    for i, m in enumerate(metadata):
        try:
            json.dumps(m)
        except (TypeError, ValueError):
            raise ParameterError("metadata", f"metadata of document {ids[i]!r} is not JSON (strings, numbers, lists, objects)") from None
    return texts, ids, metadata


def make_table(embedder, splitter, texts: list[str], ids: list[str], metadata: list[dict], dim: int, normalize: bool,
               first_key: int) -> tuple[np.ndarray, Table]:
    """(fp32 passage vectors (P, dim), the passage table with those vectors) for some documents."""
    passages = splitter.split(texts)
    passage_texts = [texts[p.doc_index][p.start : p.end] for p in passages]
    vectors = embed_vectors(embedder, passage_texts, dim, normalize)  # (P, dim)
    table = Table(
        keys=np.arange(first_key, first_key + len(passages), dtype=np.int64),
        vectors=vectors,
        rescore=None,
        passage_ids=[f"{ids[p.doc_index]}#{p.number}" for p in passages],
        doc_ids=[ids[p.doc_index] for p in passages],
        texts=passage_texts,
        starts=np.array([p.start for p in passages], dtype=np.int64),
        ends=np.array([p.end for p in passages], dtype=np.int64),
        metadata=[metadata[p.doc_index] for p in passages],
    )
    return vectors, table
