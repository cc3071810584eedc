"""Read rows of a Parquet file as records, streamed one row group batch at a time.

The same contract as the text readers in ``readers.py``: one dict per row with the
requested columns as text and ``_line`` (the 1-based row number), and every error in
one line naming the file, the row and the column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from bertkit.errors import InputError, did_you_mean

__all__ = ["iter_parquet"]

BATCH_ROWS = 8192


def _open(path: str):
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    try:
        return pq.ParquetFile(p)
    except (ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None


def iter_parquet(path: str, columns: Sequence[str], optional: Sequence[str] = ()) -> Iterator[dict]:
    """Yield ``{"_line": row, column: text, ...}`` for every row of ``path``."""
    handle = _open(path)
    names = list(handle.schema_arrow.names)
    for col in columns:
        if col not in names:
            raise InputError(f"{path}: unknown column {col!r}; columns in the file: {', '.join(names)}{did_you_mean(col, names)}")
    wanted = list(columns) + [c for c in optional if c in names]
    row = 0
    for batch in handle.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
        data = batch.to_pydict()
        for i in range(batch.num_rows):
            row += 1
            record = {"_line": row}
            for col in wanted:
                value = data[col][i]
                if value is None and col not in columns:
                    continue
                record[col] = _as_text(value, path, row, col)
            yield record


def _as_text(value: object, path: str, row: int, col: str) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, bytes, list, dict)):
        shown = "null" if value is None else type(value).__name__
        raise InputError(f"{path}, row {row}: column {col!r} must hold strings or numbers, got {shown}")
    return str(value)
