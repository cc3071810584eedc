"""bertkit qa ask --index and qa evaluate --open: retrieve, (rerank,) read, from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bertkit.cli.app import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qa"))
from qa_tiny_squad import squad_dict  # noqa: E402

DOCS = ["Paris is the capital of France.", "Marie Curie was born in Warsaw in 1867. She won two Nobel Prizes."]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    from bertkit.retrieval import Index

    path = tmp_path_factory.mktemp("qa-index") / "index"
    Index.build(DOCS, ["paris", "curie"]).save(path)
    return path


def test_ask_over_an_index(index_dir, capsys, one_thread):
    code = main(["qa", "ask", "-q", "Where was Marie Curie born?", "--index", str(index_dir), "--passages", "2", "--json",
                 "--backend", "torch", "--dtype", "fp32"])
    out, err = capsys.readouterr()
    assert code == 0, err
    answer = json.loads(out)
    assert answer["text"] == "Warsaw" and answer["doc_id"] == "curie"
    assert DOCS[1][answer["start"]:answer["end"]] == "Warsaw" and len(answer["passages"]) == 2


def test_ask_index_refuses_a_context_too(index_dir, capsys):
    code = main(["qa", "ask", "-q", "q", "-c", "a context", "--index", str(index_dir)])
    assert code == 2 and "--index answers from the index" in capsys.readouterr().err


def test_evaluate_open(tmp_path, capsys, one_thread):
    data = tmp_path / "squad.json"
    data.write_text(json.dumps(squad_dict(version_2=False)), encoding="utf-8")
    code = main(["qa", "evaluate", "--data", str(data), "--open", "--passages", "1", "--json", "--backend", "torch", "--dtype", "fp32"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["open"]["questions"] == 4 and 0 <= result["open"]["f1"] <= 100 and "f1" in result["gold_paragraph"]
