"""A corpus of input files cut into fixed shards by row position, readable shard by shard.

INPUT is a file, a directory (its files, sorted by name) or a glob; every file is
``.parquet``, ``.jsonl`` or ``.txt``. Row ``id`` is the row's position in the corpus
(files in sorted order). Shards never cross a file and hold ``rows_per_shard`` rows
(the last of each file fewer), so the same input and shard size always give the same
shards: what makes a rerun skip finished shards and still produce every row once.

One pass over text files (:func:`plan_shards`, on the driver) checks every row (UTF-8,
JSON objects with the wanted fields) and records where each shard starts (byte offset
and line), so a worker seeks straight to its shard.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bertkit.errors import InputError, UsageError
from bertkit.io.readers import decode_line, json_record

__all__ = ["FORMATS", "SourceFile", "Shard", "ShardPlan", "find_inputs", "plan_shards", "read_shard"]

FORMATS = (".parquet", ".jsonl", ".txt")


@dataclass(frozen=True)
class SourceFile:
    path: str
    fmt: str
    rows: int
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Shard:
    index: int
    file: int  # index into ShardPlan.files
    start: int  # first id (corpus row position)
    local: int  # first row inside the file
    rows: int
    offset: int = 0  # text files: byte offset of the first row
    line: int = 1  # text files: its line number

    @property
    def stop(self) -> int:
        return self.start + self.rows


@dataclass
class ShardPlan:
    files: list[SourceFile]
    columns: list[str]  # fields every row must have (.txt: the text is the first one)
    rows_per_shard: int
    shards: list[Shard] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def fingerprint(self) -> dict:
        """What a rerun must match to reuse this plan's shards."""
        return {"files": [asdict(f) for f in self.files], "columns": self.columns, "rows_per_shard": self.rows_per_shard}


def _format(path: str) -> str:
    suffix = Path(path).suffix.lower()
    suffix = ".jsonl" if suffix == ".ndjson" else suffix
    if suffix not in FORMATS:
        raise UsageError(f"{path}: unsupported input extension {suffix or '(none)'!r} for --engine ray; valid: {', '.join(FORMATS)}")
    return suffix


def find_inputs(spec: str) -> list[str]:
    """The files named by ``spec``: a file, a directory (its files) or a glob, sorted."""
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(str(p) for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    elif path.is_file():
        files = [str(path)]
    elif any(ch in spec for ch in "*?["):
        files = sorted(p for p in glob.glob(os.path.expanduser(spec)) if Path(p).is_file())
    else:
        raise InputError(f"{spec}: no such file or directory")
    if not files:
        raise InputError(f"{spec}: no input files found")
    for f in files:
        _format(f)
    return files


def _text_rows(path: str, fmt: str, columns: Sequence[str], every: int) -> tuple[int, list[tuple[int, int]]]:
    """(rows, [(byte offset, line) of rows 0, every, 2*every, ...]) after checking each row."""
    starts: list[tuple[int, int]] = []
    rows, offset = 0, 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = decode_line(raw, path, number)
            if fmt == ".jsonl":
                if not line.strip():
                    offset += len(raw)
                    continue
                _record(line, path, number, columns)
            if rows % every == 0:
                starts.append((offset, number))
            rows += 1
            offset += len(raw)
    return rows, starts


def _record(line: str, path: str, number: int, columns: Sequence[str]) -> list[str]:
    record = json_record(line, path, number, columns)
    return [record[col] for col in columns]


def _parquet_rows(path: str, columns: Sequence[str]) -> int:
    try:
        meta = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    names = meta.schema_arrow.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(f"{path}: unknown column {missing[0]!r}; columns: {', '.join(names)}")
    return meta.metadata.num_rows


def plan_shards(spec: str, columns: Sequence[str], rows_per_shard: int) -> ShardPlan:
    """Check every input row and cut the corpus into shards of ``rows_per_shard`` rows."""
    if rows_per_shard < 1:
        raise UsageError(f"--shard-rows must be >= 1, got {rows_per_shard}")
    plan = ShardPlan([], list(columns), rows_per_shard)
    if len(columns) > 1 and any(_format(f) == ".txt" for f in find_inputs(spec)):
        raise UsageError(f"{spec}: a .txt file holds only text; use .jsonl or .parquet for {', '.join(columns[1:])}")
    start = 0
    for i, path in enumerate(find_inputs(spec)):
        fmt = _format(path)
        stat = os.stat(path)
        if fmt == ".parquet":
            rows, starts = _parquet_rows(path, columns), []
        else:
            rows, starts = _text_rows(path, fmt, columns, rows_per_shard)
        plan.files.append(SourceFile(path, fmt, rows, stat.st_size, stat.st_mtime_ns))
        for k, local in enumerate(range(0, rows, rows_per_shard)):
            offset, line = starts[k] if starts else (0, 1)
            plan.shards.append(Shard(len(plan.shards), i, start + local, local, min(rows_per_shard, rows - local), offset, line))
        start += rows
    if plan.rows == 0:
        raise InputError(f"{spec}: no rows found (empty input)")
    return plan


def read_shard(plan: ShardPlan, shard: Shard) -> dict[str, list[str]]:
    """The shard's rows as ``{column: [values]}`` (in row order)."""
    source = plan.files[shard.file]
    if source.fmt == ".parquet":
        return _read_parquet(source.path, plan.columns, shard)
    out: dict[str, list[str]] = {c: [] for c in plan.columns}
    with open(source.path, "rb") as handle:
        handle.seek(shard.offset)
        number = shard.line - 1
        while len(out[plan.columns[0]]) < shard.rows:
            raw = handle.readline()
            number += 1
            if not raw:
                raise InputError(f"{source.path}: changed while reading (ended before line {number}); rerun")
            line = decode_line(raw, source.path, number)
            if source.fmt == ".txt":
                out[plan.columns[0]].append(line)
            elif line.strip():
                for col, value in zip(plan.columns, _record(line, source.path, number, plan.columns)):
                    out[col].append(value)
    return out


def _read_parquet(path: str, columns: Sequence[str], shard: Shard) -> dict[str, list[str]]:
    handle = pq.ParquetFile(path)
    groups, first, seen = [], None, 0
    for g in range(handle.metadata.num_row_groups):
        n = handle.metadata.row_group(g).num_rows
        if seen + n > shard.local and seen < shard.local + shard.rows:
            groups.append(g)
            first = seen if first is None else first
        seen += n
    table = handle.read_row_groups(groups, columns=list(columns)).slice(shard.local - (first or 0), shard.rows)
    out = {}
    for col in columns:
        values = table.column(col).to_pylist()
        for k, v in enumerate(values):
            if v is None:
                raise InputError(f"{path}: row {shard.local + k}: column {col!r} is empty (null)")
        out[col] = [v if isinstance(v, str) else str(v) for v in values]
    return out
