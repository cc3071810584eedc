"""bertkit rerank train / evaluate / rank on a tiny model; bad input is one line, exit 2."""

from __future__ import annotations

import pytest
import json

from bertkit.cli.app import main

from rerank_fixtures import PASSAGES, QUERIES


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_train_evaluate_rank(tiny_bert, pairs_file, tmp_path, capsys, one_thread):
    out = tmp_path / "rr"
    code, stdout, err = _run(capsys, "rerank", "train", "--train", pairs_file, "--dev", pairs_file, "--out", out, "--base", tiny_bert,
                             "--epochs", "1", "--max-length", "48", "--train-layers", "all", "--delta", "none", "--lr", "1e-3",
                             "--batch-size", "4", "--device", "cpu", "--loss", "listwise")
    assert code == 0, err
    assert "dev ndcg@10" in stdout and (out / "manifest.json").is_file()
    code, stdout, err = _run(capsys, "rerank", "evaluate", "--data", pairs_file, "--model", out, "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["queries"] == 3 and 0 <= result["ndcg@10"] <= 100 and "given" in result
    docs = tmp_path / "docs.txt"
    docs.write_text("\n".join(PASSAGES) + "\n", encoding="utf-8")
    code, stdout, err = _run(capsys, "rerank", "rank", "-q", QUERIES[0], "-d", docs, "--model", out, "--json", "--top-k", "2")
    assert code == 0, err
    ranked = json.loads(stdout)
    assert len(ranked) == 2 and ranked[0]["text"] == PASSAGES[ranked[0]["index"]]


def test_errors_are_one_line(tmp_path, pairs_file, capsys):
    code, _, err = _run(capsys, "rerank", "train", "--out", tmp_path / "x")
    assert code == 2 and "either --train PAIRS or --squad FILE" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "passage": "p", "label": "x"}\n', encoding="utf-8")
    code, _, err = _run(capsys, "rerank", "train", "--train", bad, "--out", tmp_path / "x")
    assert code == 2 and "bad.jsonl, line 1" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "rerank", "train", "--train", pairs_file, "--out", tmp_path / "x", "--loss", "hinge")
    assert code == 2 and "--loss" in err and "bce" in err and "listwise" in err
    code, _, err = _run(capsys, "rerank", "evaluate", "--data", pairs_file, "--model", tmp_path / "missing")
    assert code == 2 and "no such reranker directory" in err
