"""Write sentence vectors and word vectors as .npy, .parquet or .jsonl, atomically."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from bertkit.io.atomic import atomic_path
from bertkit.io.formats import OUTPUT_FORMATS, output_format
from bertkit.io.stream import EmbeddingStreamWriter

__all__ = ["OUTPUT_FORMATS", "output_format", "write_embeddings", "write_word_vectors"]


def write_embeddings(path: str, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Row i of ``vectors`` (float32) is the embedding of ``texts[i]`` (one chunk of the stream writer)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    with EmbeddingStreamWriter(path, dim=vectors.shape[1] if vectors.ndim == 2 else 0, rows=len(vectors)) as writer:
        writer.write(texts, vectors)


def write_word_vectors(
    path: str, texts: Sequence[str], words: Sequence[Sequence[str]], vectors: Sequence[np.ndarray]
) -> None:
    """One row per text: its words and one vector per word (sub-word pieces pooled)."""
    fmt = output_format(path, words=True)
    with atomic_path(path) as tmp:
        if fmt == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            dim = next((v.shape[1] for v in vectors if v.ndim == 2 and v.shape[0]), 0)
            rows = [pa.array(np.asarray(v, np.float32).reshape(-1), pa.float32()) for v in vectors]
            vec_lists = [pa.FixedSizeListArray.from_arrays(r, dim).to_pylist() for r in rows]
            table = pa.table(
                {
                    "text": pa.array(list(texts), pa.string()),
                    "words": pa.array([list(w) for w in words], pa.list_(pa.string())),
                    "vectors": pa.array(vec_lists, pa.list_(pa.list_(pa.float32(), dim))),
                }
            )
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for text, ws, vs in zip(texts, words, vectors):
                    row = {"text": text, "words": list(ws), "vectors": [[round(float(x), 7) for x in v] for v in vs]}
                    fh.write(json.dumps(row, ensure_ascii=False))
                    fh.write("\n")
