"""Write embeddings chunk by chunk, so memory stays flat for any corpus size.

``EmbeddingStreamWriter(path, dim, rows)`` is a context manager: ``write(texts, vectors)``
appends a chunk; the file appears (atomically) only when the block exits cleanly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bertkit.io.atomic import atomic_path
from bertkit.io.formats import output_format

__all__ = ["EmbeddingStreamWriter"]


class EmbeddingStreamWriter:
    def __init__(self, path: str | Path, dim: int, rows: int | None = None) -> None:
        self.path = Path(path)
        self.format = output_format(str(path))
        if self.format == ".npy" and rows is None:
            raise ValueError("streaming .npy output needs the row count up front")
        self.dim = dim
        self.rows = rows
        self.written = 0

    def __enter__(self) -> "EmbeddingStreamWriter":
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        if self.format == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._schema = pa.schema([("text", pa.string()), ("vector", pa.list_(pa.float32(), self.dim))])
            self._fh = pq.ParquetWriter(str(tmp), self._schema)
        else:
            self._fh = open(tmp, "wb")
            if self.format == ".npy":
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False, "shape": (self.rows, self.dim)}
                np.lib.format.write_array_header_1_0(self._fh, header)
        return self

    def write(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.format == ".npy":
            self._fh.write(vectors.tobytes())
        elif self.format == ".parquet":
            import pyarrow as pa

            column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), self.dim)
            self._fh.write_table(pa.Table.from_arrays([pa.array(list(texts), pa.string()), column], schema=self._schema))
        else:
            lines = [
                json.dumps({"text": t, "vector": [round(float(x), 7) for x in v]}, ensure_ascii=False) + "\n"
                for t, v in zip(texts, vectors)
            ]
            self._fh.write("".join(lines).encode("utf-8"))
        self.written += len(vectors)

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self._fh.close()
            if exc_type is None and self.rows is not None and self.written != self.rows:
                raise RuntimeError(f"wrote {self.written} rows, expected {self.rows}")
        except BaseException as err:
            self._atomic.__exit__(type(err), err, err.__traceback__)
            raise
        return bool(self._atomic.__exit__(exc_type, exc, tb))
