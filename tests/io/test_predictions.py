"""Prediction files: a multi-label model's ``labels`` reach every format."""

from __future__ import annotations

import csv
import json

import pytest

from bertkit.io.predictions import write_predictions

ROWS = [{"text": "a, b", "label": "x", "labels": ["x", "y"], "top": [{"label": "x", "probability": 0.9}]},
        {"text": "c", "label": "y", "labels": [], "top": [{"label": "y", "probability": 0.4}]}]


@pytest.mark.parametrize("suffix, delimiter", [(".csv", ","), (".tsv", "\t")])
def test_tables_get_a_labels_column_when_rows_have_labels(tmp_path, suffix, delimiter):
    path = write_predictions(tmp_path / f"p{suffix}", ROWS)
    table = list(csv.DictReader(path.open(encoding="utf-8"), delimiter=delimiter))
    assert [json.loads(r["labels"]) for r in table] == [["x", "y"], []]
    assert list(table[0]) == ["text", "label", "labels", "label_1", "probability_1"]
    single = write_predictions(tmp_path / f"s{suffix}", [{k: v for k, v in r.items() if k != "labels"} for r in ROWS])
    assert "labels" not in next(csv.DictReader(single.open(encoding="utf-8"), delimiter=delimiter))


def test_jsonl_keeps_the_rows_as_they_are(tmp_path):
    path = write_predictions(tmp_path / "p.jsonl", ROWS)
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == ROWS
