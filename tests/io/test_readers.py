"""Input files: every format, and one-line errors that name file, line and field."""

from __future__ import annotations

import io
import sys

import pytest

from bertkit.errors import InputError, UsageError
from bertkit.io.readers import read_records, read_texts


def write(tmp_path, name, content, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return str(p)


def test_txt_keeps_empty_lines(tmp_path):
    assert read_texts(write(tmp_path, "a.txt", "one\n\nthree\n")) == ["one", "", "three"]


def test_txt_crlf_and_bom(tmp_path):
    assert read_texts(write(tmp_path, "a.txt", b"\xef\xbb\xbfone\r\ntwo\r\n", "wb")) == ["one", "two"]


def test_csv_with_quotes_and_multiline_fields(tmp_path):
    p = write(tmp_path, "a.csv", 'id,text\n1,"hello, world"\n2,"two\nlines"\n3,"say ""hi"""\n')
    assert read_texts(p) == ["hello, world", "two\nlines", 'say "hi"']


def test_tsv_and_custom_column(tmp_path):
    p = write(tmp_path, "a.tsv", 'sentence\tlabel\nit\'s "great"\t1\nbad\t0\n')
    assert read_texts(p, "sentence") == ['it\'s "great"', "bad"]
    rows = read_records(p, ["sentence", "label"])
    assert rows[1] == {"sentence": "bad", "label": "0", "_line": 3}


def test_jsonl(tmp_path):
    p = write(tmp_path, "a.jsonl", '{"text": "a", "n": 1}\n\n{"text": 5}\n')
    assert read_texts(p) == ["a", "5"]


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x\ny\n")))
    assert read_texts("-") == ["x", "y"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.csv", "id,body\n1,x\n", r"a.csv: unknown column 'text'; columns in the header: id, body"),
        ("a.csv", "", r"a.csv: empty file"),
        ("a.txt", "", r"a.txt: no texts found"),
        ("a.jsonl", '{"text": "a"}\n{"txt": "b"}\n', r"a.jsonl, line 2: missing field 'text'"),
        ("a.jsonl", '{"text": "a"}\n{bad\n', r"a.jsonl, line 2: malformed JSON"),
        ("a.jsonl", '["a"]\n', r"a.jsonl, line 1: expected a JSON object"),
        ("a.jsonl", '{"text": null}\n', r"a.jsonl, line 1: field 'text' must be a string"),
        ("a.csv", "text,x\na,b\nc\n", r"a.csv, line 3: expected 2 fields, found 1"),
        ("a.csv", 'text\n"open\n', r"a.csv, line 2: unterminated quoted field"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, name, content, message):
    with pytest.raises(InputError, match=message):
        read_texts(write(tmp_path, name, content))


def test_non_utf8_line_is_named(tmp_path):
    p = write(tmp_path, "a.txt", b"ok\nfine\n\xff\xfe bad\n", "wb")
    with pytest.raises(InputError, match=r"a.txt, line 3: not valid UTF-8"):
        read_texts(p)


def test_missing_file_and_bad_extension(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_texts(str(tmp_path / "none.txt"))
    with pytest.raises(UsageError, match=r"unsupported input extension '.xml'; valid: .txt, .csv, .tsv, .jsonl"):
        read_texts(str(tmp_path / "a.xml"))
