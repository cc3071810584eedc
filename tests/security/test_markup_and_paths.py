"""User and data text is never read as rich markup; an output never overwrites an input."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from bertkit.cli.app import main


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- markup -----------------------------------------------------------------------------

def test_predict_texts_with_markup(capsys):
    code, out, err = run(["classify", "predict", "a [/] b", "great [bold]film[/bold]", "--backend", "torch"], capsys)
    assert code == 0, err
    assert "a [/] b" in out and "[bold]film[/bold]" in out


def test_output_name_with_brackets_reported_as_given(tmp_path, tiny_bert, capsys):
    (tmp_path / "in.txt").write_text("hello\n")
    out = tmp_path / "x[red].npy"
    code, _, err = run(["embed", tmp_path / "in.txt", "-o", out, "--model", tiny_bert, "--backend", "torch"], capsys)
    assert code == 0, err
    assert f"wrote {out}" in err and out.exists()


def test_answer_and_labels_with_markup(capsys):
    from bertkit.cli import qa

    candidate = SimpleNamespace(text="[/b] closing tag", is_null=False, start=0, end=16, score=1.0, probability=0.9)
    answer = SimpleNamespace(no_answer=False, text="[/b] closing tag", start=0, end=16, score=1.0, probability=0.9,
                             candidates=[candidate, candidate], null_score=0.0)
    qa._print_answer(answer, 2)
    out = capsys.readouterr().out
    assert out.count("[/b] closing tag") == 3


def test_label_names_with_markup_in_evaluate_tables(capsys, monkeypatch):
    """A label named [/pos] in the per-class and confusion tables."""
    from bertkit.cli import classify

    report = {"examples": 2, "accuracy": 0.5, "macro_f1": 0.5, "labels": ["[/pos]", "[red]neg"],
              "per_class": {"[/pos]": {"precision": 1.0, "recall": 0.5, "f1": 0.6, "support": 2},
                            "[red]neg": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}},
              "confusion": [[1, 1], [0, 0]]}
    fake = SimpleNamespace(runtime="torch fp32 on cpu")
    monkeypatch.setattr("bertkit.classification.classifier.load_classifier", lambda *a, **k: fake)
    monkeypatch.setattr("bertkit.classification.evaluate.evaluate_classifier", lambda *a, **k: dict(report))
    monkeypatch.setattr("bertkit.io.readers.detect_format", lambda path: ".csv")
    code, out, err = run(["classify", "evaluate", "--data", "d.csv", "--backend", "torch"], capsys)
    assert code == 0, err
    assert out.count("[/pos]") >= 3 and out.count("[red]neg") >= 3


# --- output == input --------------------------------------------------------------------

@pytest.fixture
def jsonl(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "hello", "question": "who?", "context": "me"}\n')
    return path


def _refused(code, err, path, before):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "is the input file" in lines[0], err
    assert path.read_text() == before


def test_embed_output_is_input(jsonl, capsys):
    before = jsonl.read_text()
    code, _, err = run(["embed", jsonl, "-o", jsonl], capsys)
    _refused(code, err, jsonl, before)


def test_embed_output_is_input_through_a_symlink_and_other_spelling(jsonl, tmp_path, capsys):
    before = jsonl.read_text()
    link = tmp_path / "link.jsonl"
    os.symlink(jsonl, link)
    code, _, err = run(["embed", jsonl, "-o", link], capsys)
    _refused(code, err, jsonl, before)
    other = tmp_path / "sub" / ".." / "data.jsonl"
    (tmp_path / "sub").mkdir()
    code, _, err = run(["embed", other, "-o", jsonl], capsys)
    _refused(code, err, jsonl, before)


def test_qa_ask_output_is_input(jsonl, capsys):
    before = jsonl.read_text()
    code, _, err = run(["qa", "ask", "--input", jsonl, "-o", jsonl], capsys)
    _refused(code, err, jsonl, before)


def test_classify_predict_output_is_input(jsonl, capsys):
    before = jsonl.read_text()
    code, _, err = run(["classify", "predict", "--input", jsonl, "-o", jsonl], capsys)
    _refused(code, err, jsonl, before)


def test_qa_evaluate_predictions_over_data(tmp_path, capsys):
    data = tmp_path / "predictions.json"
    data.write_text('{"version": "v2.0", "data": []}')
    before = data.read_text()
    code, _, err = run(["qa", "evaluate", "--data", data, "--out", tmp_path], capsys)
    _refused(code, err, data, before)
