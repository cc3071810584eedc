"""CoNLL reading: columns, sentences, -DOCSTART-, and one-line errors naming file and line."""

from __future__ import annotations

import pytest

from bertkit.errors import InputError
from bertkit.tagging.conll import read_conll
from bertkit.tagging.schemes import detect_scheme


def test_reads_tab_and_space_files_and_skips_docstart(tmp_path):
    path = tmp_path / "a.conll"
    path.write_text("-DOCSTART- -X- O O\n\nJohn NNP B-PER\nlives VBZ O\n\n\nin\tO\nRome\tB-LOC\n", encoding="utf-8")
    data = read_conll(path)
    assert data.words == [["John", "lives"], ["in", "Rome"]]
    assert data.tags == [["B-PER", "O"], ["O", "B-LOC"]]
    assert data.lines == [3, 7] and data.labels() == ["O", "B-LOC", "B-PER"]
    assert detect_scheme(data.tags) == "BIO" and detect_scheme([["S-X"]]) == "BIOES"


@pytest.mark.parametrize("text, message", [
    ("a\tO\nb\n", "line 2: expected 'token<TAB>tag'"),
    ("a\tI-\n", "line 1: tag 'I-' is outside the BIO/BIOES schemes"),
    ("a\tX-PER\n", "line 1: tag 'X-PER'"),
    ("", "no sentences"),
    ("-DOCSTART-\tO\n\n", "no sentences"),
])
def test_bad_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.conll"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        read_conll(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_conll(tmp_path / "nope.conll")
    (tmp_path / "bin.conll").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        read_conll(tmp_path / "bin.conll")
