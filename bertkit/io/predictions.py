"""Labelled predictions to a file: ``.jsonl`` (one object per text), ``.csv`` or ``.tsv``.

Each row is ``{"text", "label", "top": [{"label", "probability"}, ...]}`` (a multi-label
model's rows also hold ``"labels"``: every predicted label); the tables get the columns
``text, label, label_1, probability_1, ..., label_k, probability_k`` (after ``label``,
``labels`` as a JSON list when the rows have it). Files are written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from bertkit.errors import ParameterError

__all__ = ["PREDICTION_FORMATS", "check_prediction_path", "write_predictions"]

PREDICTION_FORMATS = (".jsonl", ".csv", ".tsv")


def check_prediction_path(path: str | os.PathLike) -> Path:
    """The path, refused (naming ``output``) when its extension is not a prediction format."""
    path = Path(path)
    if path.suffix.lower() not in PREDICTION_FORMATS:
        raise ParameterError(
            "output", f"output {path}: unsupported extension {path.suffix or '(none)'!r}; valid: {', '.join(PREDICTION_FORMATS)}"
        )
    return path


def write_predictions(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write prediction rows by the path's extension (see the module docstring)."""
    from bertkit.io.atomic import atomic_write_text

    path = check_prediction_path(path)
    if path.suffix.lower() == ".jsonl":
        atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return path
    tsv = path.suffix.lower() == ".tsv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if tsv else ",", lineterminator="\n")
    k = len(rows[0]["top"]) if rows else 1
    multi = bool(rows) and "labels" in rows[0]
    writer.writerow(["text", "label"] + (["labels"] if multi else []) + [c for i in range(1, k + 1) for c in (f"label_{i}", f"probability_{i}")])
    for r in rows:
        text = r["text"].replace("\t", " ").replace("\n", " ") if tsv else r["text"]
        chosen = [json.dumps(r["labels"], ensure_ascii=False)] if multi else []
        writer.writerow([text, r["label"]] + chosen + [v for t in r["top"] for v in (t["label"], t["probability"])])
    atomic_write_text(path, buffer.getvalue())
    return path
