"""Corpus files: BEIR corpus.jsonl, .jsonl, .csv, .tsv, .parquet; malformed rows named by file and line."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bertkit.errors import InputError, UsageError
from bertkit.retrieval.corpus import read_corpus


def test_beir_corpus_puts_the_title_first(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "d1", "title": "Paris", "text": "is in France.", "metadata": {}}\n{"_id": "d2", "title": "", "text": "No title."}\n')
    c = read_corpus(str(path))
    assert c.ids == ["d1", "d2"] and c.texts == ["Paris is in France.", "No title."]
    assert c.metadata[0] == {"title": "Paris", "metadata": {}}


def test_delimited_and_parquet_corpora(tmp_path):
    (tmp_path / "c.csv").write_text('id,text,source\n1,"hello, world",wiki\n2,"two\nlines",news\n')
    c = read_corpus(str(tmp_path / "c.csv"))
    assert c.texts == ["hello, world", "two\nlines"] and c.metadata == [{"source": "wiki"}, {"source": "news"}]
    (tmp_path / "c.tsv").write_text("doc\tbody\nx\tfirst\ny\tsecond\n")
    c = read_corpus(str(tmp_path / "c.tsv"), text_column="body", id_column="doc")
    assert c.ids == ["x", "y"] and c.texts == ["first", "second"]
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one", "two"], "year": [2020, 2021]}), tmp_path / "c.parquet")
    c = read_corpus(str(tmp_path / "c.parquet"))
    assert c.ids == ["a", "b"] and c.metadata == [{"year": 2020}, {"year": 2021}]


def test_rows_without_ids_are_numbered(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    assert read_corpus(str(tmp_path / "c.jsonl")).ids == ["0", "1"]


def test_bad_corpora(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "ok"}\n{"id": "2", "text": \n')
    with pytest.raises(InputError, match=r"bad.jsonl, line 2: malformed JSON"):
        read_corpus(str(bad))
    bad.write_text('{"id": "1", "text": "ok"}\n{"id": "2", "body": "x"}\n')
    with pytest.raises(InputError, match=r"line 2: missing field 'text'; fields present: id, body"):
        read_corpus(str(bad))
    bad.write_text('{"id": "1", "text": "ok"}\n{"id": "1", "text": "again"}\n')
    with pytest.raises(InputError, match=r"line 2: duplicate id '1' \(first on line 1\)"):
        read_corpus(str(bad))
    bad.write_text('{"id": "1", "text": ["a list"]}\n')
    with pytest.raises(InputError, match="field 'text' must be a string"):
        read_corpus(str(bad))
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="no documents found"):
        read_corpus(str(tmp_path / "empty.jsonl"))
    with pytest.raises(UsageError, match="unsupported corpus extension '.txt'"):
        read_corpus(str(tmp_path / "x.txt"))
    with pytest.raises(InputError, match="no such file"):
        read_corpus(str(tmp_path / "missing.jsonl"))
