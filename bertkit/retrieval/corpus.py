"""Read a corpus file: one document per row of a .jsonl, .csv, .tsv or .parquet file.

A row has a text column (``--text-column``, default ``text``) and an id column
(``--id-column``, default ``id``; a BEIR ``corpus.jsonl`` has ``_id``, used when ``id`` is
absent); rows without any id are numbered from 0. A non-empty ``title`` is put before the
text as BEIR does (``title + " " + text``), so spans count from the title's start. Every
other field becomes the document's metadata (filterable). Errors name the file and line.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from bertkit.errors import InputError, UsageError

__all__ = ["CORPUS_FORMATS", "Corpus", "read_corpus"]

CORPUS_FORMATS = (".jsonl", ".csv", ".tsv", ".parquet")


@dataclass
class Corpus:
    texts: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    metadata: list[dict] = field(default_factory=list)


def read_corpus(path: str, text_column: str = "text", id_column: str = "id") -> Corpus:
    """All documents of ``path``; an empty file, a malformed row or a duplicate id: one InputError line."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in CORPUS_FORMATS:
        raise UsageError(f"{path}: unsupported corpus extension {suffix or '(none)'!r}; valid: {', '.join(CORPUS_FORMATS)}")
    if not p.is_file():
        raise InputError(f"{path}: {'is a directory, expected a file' if p.is_dir() else 'no such file'}")
    corpus, seen = Corpus(), {}
    for number, row in _rows(p, suffix):
        text, doc_id, meta = _document(row, path, number, text_column, id_column, len(corpus.texts))
        if doc_id in seen:
            raise InputError(f"{path}, line {number}: duplicate id {doc_id!r} (first on line {seen[doc_id]})")
        seen[doc_id] = number
        corpus.texts.append(text)
        corpus.ids.append(doc_id)
        corpus.metadata.append(meta)
    if not corpus.texts:
        raise InputError(f"{path}: no documents found (empty corpus)")
    return corpus


def _document(row: dict, path: str, number: int, text_column: str, id_column: str, position: int):
    where = f"{path}, line {number}"
    if text_column not in row:
        raise InputError(f"{where}: missing field {text_column!r}; fields present: {', '.join(row) or '(none)'}")
    text = _text(row[text_column], where, text_column)
    id_key = id_column if id_column in row else ("_id" if id_column == "id" and "_id" in row else None)
    if id_key is None and id_column != "id":
        raise InputError(f"{where}: missing field {id_column!r} (--id-column); fields present: {', '.join(row)}")
    doc_id = _text(row[id_key], where, id_key) if id_key else str(position)
    if not doc_id:
        raise InputError(f"{where}: field {id_key!r} is empty; every document needs an id")
    title = row.get("title")
    if text_column == "text" and isinstance(title, str) and title.strip():
        text = f"{title} {text}"
    meta = {k: v for k, v in row.items() if k not in (text_column, id_key)}
    return text, doc_id, meta


def _text(value: object, where: str, column: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise InputError(f"{where}: field {column!r} must be a string, got {json.dumps(value, default=str)[:40]}")


def _rows(path: Path, suffix: str):
    """(line or row number, dict) for every non-empty row."""
    if suffix == ".parquet":
        yield from _parquet_rows(path)
        return
    from bertkit.io.readers import decode_line

    if suffix == ".jsonl":
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                line = decode_line(raw, str(path), number)
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}, line {number}: malformed JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}")
                yield number, row
        return
    yield from _delimited_rows(path, "\t" if suffix == ".tsv" else ",")


def _delimited_rows(path: Path, delimiter: str):
    from bertkit.io.readers import iter_records

    header = None
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8", errors="replace")
            if line.strip():
                quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
                header = [h.strip() for h in next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter, quoting=quoting))]
                break
    if header is None:
        raise InputError(f"{path}: no documents found (empty corpus)")
    for record in iter_records(str(path), [], optional=header):
        number = record.pop("_line")
        yield number, record


def _parquet_rows(path: Path):
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        handle = pq.ParquetFile(path)
        number = 0
        for batch in handle.iter_batches(batch_size=8192):
            for row in batch.to_pylist():
                number += 1
                yield number, {k: v for k, v in row.items() if v is not None}
    except (ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0][:100]})") from None
