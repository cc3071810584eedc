"""``bertkit tag train / evaluate / predict`` end to end on a tiny random BERT, and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tagging"))
from tiny_conll import sentences, write_conll  # noqa: E402

from bertkit.cli.app import main  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def env(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("tag-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BERTKIT_CACHE", str(root / "cache"))
        train = write_conll(root / "train.conll", sentences(16, seed=1))
        dev = write_conll(root / "dev.conll", sentences(6, seed=2))
        out = root / "tagger"
        code = main(["tag", "train", "--train", str(train), "--dev", str(dev), "--out", str(out), "--base", str(tiny_bert),
                     "--max-length", "32", "--epochs", "2", "--lstm-hidden", "8", "--device", "cpu", "--json"])
        assert code == 0
        yield {"root": root, "train": train, "dev": dev, "out": out}


def test_train_evaluate_predict(env, capsys, tmp_path):
    code = main(["tag", "evaluate", "--model", str(env["out"]), "--data", str(env["dev"]), "--device", "cpu", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["sentences"] == 6 and {"conlleval", "strict"} <= set(report)
    assert 0 <= report["conlleval"]["micro"]["f1"] <= 1
    inp = tmp_path / "texts.txt"
    inp.write_text("i met bob in rome .\n\ni met carol smith in new york .\n", encoding="utf-8")
    out = tmp_path / "ents.jsonl"
    assert main(["tag", "predict", "--model", str(env["out"]), "--input", str(inp), "-o", str(out), "--device", "cpu"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["i met bob in rome .", "i met carol smith in new york ."]
    for r in rows:
        for e in r["entities"]:
            assert r["text"][e["start"] : e["end"]] == e["text"] and set(e) == {"type", "text", "start", "end", "score"}
    assert main(["tag", "predict", "--model", str(env["out"]), "i met bob", "--device", "cpu"]) == 0
    assert "i met bob" in capsys.readouterr().out


@pytest.mark.parametrize("content, message", [
    ("a\tO\nb\n", "line 2: expected 'token<TAB>tag'"),
    ("a\tI-\n", "line 1: tag 'I-' is outside"),
    ("a\tB-ORG\n", "line 1: tag 'B-ORG' never occurs in the training data"),
    ("", "no sentences"),
])
def test_bad_evaluation_data_exits_2_with_one_line(env, capsys, tmp_path, content, message):
    bad = tmp_path / "bad.conll"
    bad.write_text(content, encoding="utf-8")
    code = main(["tag", "evaluate", "--model", str(env["out"]), "--data", str(bad), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_bad_training_input_writes_nothing(env, capsys, tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("x y O\nonly\n", encoding="utf-8")
    out = tmp_path / "m"
    assert main(["tag", "train", "--train", str(bad), "--out", str(out)]) == 2
    assert "line 2" in capsys.readouterr().err and not out.exists()
    assert main(["tag", "train", "--train", str(env["train"]), "--out", str(out), "--head", "gru"]) == 2
    assert "valid options: linear, crf, bilstm, bilstm-crf" in capsys.readouterr().err and not out.exists()
    assert main(["tag", "predict", "--model", str(tmp_path / "none"), "x"]) == 2
    assert main(["tag", "predict", "x"]) == 2
    assert "give --model DIR" in capsys.readouterr().err


def test_predict_and_evaluate_take_backend_dtype(env, capsys):
    model = str(env["out"])
    assert main(["tag", "predict", "--model", model, "i met bob", "--backend", "torch", "--dtype", "fp32", "--device", "cpu", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.splitlines()[-1])["text"] == "i met bob"
    assert main(["tag", "evaluate", "--model", model, "--data", str(env["dev"]), "--dtype", "fp32", "--device", "cpu"]) == 0
    assert "runtime torch fp32 on cpu (asked)" in capsys.readouterr().err.replace("\n", " ")
    for flags in (["--backend", "onnx", "--dtype", "bf16"], ["--dtype", "int8"], ["--backend", "tensorrt"]):
        assert main(["tag", "predict", "--model", model, "i met bob", "--device", "cpu", *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
