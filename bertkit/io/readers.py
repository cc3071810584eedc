"""Read texts (and labelled records) from .txt, .csv, .tsv, .jsonl, .parquet files or stdin.

Every error names the file, and where it applies the line and the field, in one line.
Readers are generators so that large inputs can be streamed; ``read_texts`` and
``read_records`` collect them for callers that want a list.
"""

from __future__ import annotations

import csv
import os
import io
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from bertkit.errors import InputError, UsageError, did_you_mean
from bertkit.io.texts import invalid_character

__all__ = ["FORMATS", "detect_format", "decode_line", "json_record", "iter_records", "read_records", "iter_texts", "read_texts"]

FORMATS = (".txt", ".csv", ".tsv", ".jsonl", ".parquet")  # .parquet: bertkit.io.parquet
MAX_LINE_BYTES = 100 * 2**20  # one line of a text file: a longer one is refused, never read whole
csv.field_size_limit(2**31 - 1)


def detect_format(path: str) -> str:
    """The input format from the extension (``-`` is stdin, read as .txt)."""
    if path == "-":
        return ".txt"
    suffix = Path(path).suffix.lower()
    if suffix == ".json" or suffix == ".ndjson":
        suffix = ".jsonl" if suffix == ".ndjson" else suffix
    if suffix not in FORMATS:
        raise UsageError(
            f"{path}: unsupported input extension {suffix or '(none)'!r}; valid: {', '.join(FORMATS)} or - for stdin"
        )
    return suffix


def _lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, line without newline), decoding UTF-8 strictly line by line."""
    if path == "-":
        stream = sys.stdin.buffer
        close = False
    else:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{path}: no such file")
        if p.is_dir():
            raise InputError(f"{path}: is a directory, expected a file")
        stream = open(p, "rb")
        close = True
    try:
        for number, raw in enumerate(iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(
                    f"{path}, line {number}: longer than {MAX_LINE_BYTES:,} bytes; bertkit reads lines up to that size "
                    "(split it into shorter lines)"
                )
            yield number, decode_line(raw, path, number)
    finally:
        if close:
            stream.close()


def iter_records(path: str, columns: Sequence[str], optional: Sequence[str] = ()) -> Iterator[dict]:
    """Yield one dict per row with the requested ``columns`` (required) and ``optional``.

    Each dict also carries ``_line`` (1-based line in the file). For .txt input the only
    column is the text; it is returned under the first requested column name.
    """
    fmt = detect_format(path)
    if fmt == ".txt":
        if len(columns) > 1 or optional:
            raise UsageError(f"{path}: a .txt file holds only text; use .csv, .tsv or .jsonl for {', '.join(list(columns[1:]) + list(optional))}")
        for number, line in _lines(path):
            yield {columns[0]: line, "_line": number}
        return
    if fmt == ".jsonl":
        yield from _iter_jsonl(path, columns, optional)
        return
    if fmt == ".parquet":
        from bertkit.io.parquet import iter_parquet

        yield from iter_parquet(path, columns, optional)
        return
    yield from _iter_delimited(path, columns, optional, "\t" if fmt == ".tsv" else ",")


def _iter_jsonl(path: str, columns: Sequence[str], optional: Sequence[str]) -> Iterator[dict]:
    for number, line in _lines(path):
        if line.strip():
            yield json_record(line, path, number, columns, optional)


def json_record(line: str, path: str, number: int, columns: Sequence[str], optional: Sequence[str] = ()) -> dict:
    """One JSONL line as ``{"_line": number, column: text}``; one InputError line (file, line, field) if bad."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {number}: malformed JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path}, line {number}: expected a JSON object, got {type(obj).__name__}")
    record = {"_line": number}
    for col in columns:
        if col not in obj:
            raise InputError(f"{path}, line {number}: missing field {col!r}; fields present: {', '.join(obj) or '(none)'}{did_you_mean(col, list(obj))}")
        record[col] = _as_text(obj[col], path, number, col)
    for col in optional:
        if col in obj and obj[col] is not None:
            record[col] = _as_text(obj[col], path, number, col)
    return record


def _as_text(value: object, path: str, number: int, col: str) -> str:
    if isinstance(value, str):
        pos = invalid_character(value)  # a \ud800 escape without its pair decodes to a lone surrogate
        if pos is not None:
            raise InputError(
                f"{path}, line {number}: field {col!r} has an invalid character U+{ord(value[pos]):04X} at position {pos} "
                "(a lone surrogate, from an unpaired \\ud800-\\udfff escape); it is not valid Unicode text"
            )
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise InputError(f"{path}, line {number}: field {col!r} must be a string or number, got {json.dumps(value)[:40]}")
    return str(value)


def _iter_delimited(path: str, columns: Sequence[str], optional: Sequence[str], delimiter: str) -> Iterator[dict]:
    lines = _lines(path)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    header = None
    for number, line in lines:
        if line.strip():
            header = next(csv.reader([line], delimiter=delimiter, quoting=quoting))
            break
    if header is None:
        raise InputError(f"{path}: empty file (a header row is required)")
    header = [h.strip() for h in header]
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(f"{path}: unknown column {missing[0]!r}; columns in the header: {', '.join(header)}{did_you_mean(missing[0], header)}")
    index = {c: header.index(c) for c in list(columns) + [c for c in optional if c in header]}

    # Re-join physical lines for quoted CSV fields that span lines.
    buffer: list[str] = []
    start = 0
    for number, line in lines:
        if not buffer:
            start = number
            if not line.strip():
                continue
        buffer.append(line)
        text = "\n".join(buffer)
        if delimiter == "," and text.count('"') % 2 == 1:
            continue  # an open quoted field: keep reading
        buffer = []
        try:
            row = next(csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting, strict=True))
        except csv.Error as exc:
            raise InputError(f"{path}, line {start}: malformed row ({exc})") from None
        if len(row) != len(header):
            raise InputError(f"{path}, line {start}: expected {len(header)} fields, found {len(row)}")
        record = {"_line": start}
        for col, i in index.items():
            record[col] = row[i]
        yield record
    if buffer:
        raise InputError(f"{path}, line {start}: unterminated quoted field")


def read_records(path: str, columns: Sequence[str], optional: Sequence[str] = ()) -> list[dict]:
    """All rows of ``path`` as dicts (see :func:`iter_records`)."""
    return list(iter_records(path, columns, optional))


def iter_texts(path: str, text_column: str = "text") -> Iterator[str]:
    """Texts from ``path`` in input order; empty lines of a .txt file keep their row."""
    for record in iter_records(path, [text_column]):
        yield record[text_column]


def read_texts(path: str, text_column: str = "text") -> list[str]:
    """All texts of ``path``; raises InputError for a file with no texts."""
    texts = list(iter_texts(path, text_column))
    if not texts:
        raise InputError(f"{path if path != '-' else 'stdin'}: no texts found (empty input)")
    return texts


def decode_line(raw: bytes, path: str | os.PathLike, number: int) -> str:
    """One line of a UTF-8 file without its line break (and without a BOM on line 1)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}, line {number}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if number == 1 and line.startswith("\ufeff"):
        line = line[1:]
    return line.rstrip("\r\n")
