"""`bertkit qa train|evaluate|ask` as a user runs them, and every bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qa"))
from qa_tiny_squad import squad_dict, write_squad  # noqa: E402

from bertkit.cli.app import main  # noqa: E402

SMALL = ["--max-length", "64", "--doc-stride", "16", "--max-question-length", "16"]


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qa-cli")
    v2 = write_squad(tmp / "v2.json", squad_dict(version_2=True))
    v1 = write_squad(tmp / "v1.json", squad_dict(version_2=False))
    return tmp, v1, v2


@pytest.fixture(scope="module")
def model_dir(files, tiny_bert):
    tmp, _, v2 = files
    out = tmp / "model"
    code = main(["qa", "train", "--train", str(v2), "--dev", str(v2), "--out", str(out), "--model", str(tiny_bert), *SMALL,
                 "--epochs", "2", "--batch-size", "5", "--train-layers", "1", "--save-dtype", "fp16", "--threads", "1"])
    assert code == 0
    return out


def test_train_writes_a_model_directory(model_dir):
    assert {"bertkit.json", "qa_weights.safetensors", "manifest.json", "training_curves.png"} <= {p.name for p in model_dir.iterdir()}
    config = json.loads((model_dir / "bertkit.json").read_text())
    assert config["version_2"] and config["train_layers"] == 1 and config["weights_dtype"] == "fp16"
    assert config["training"]["dev"]["total"] == 5


def test_train_reports_skipped_answers_and_dev_metrics(files, tiny_bert, tmp_path, capsys):
    obj = squad_dict()
    obj["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 0
    data = write_squad(tmp_path / "t.json", obj)
    code, out, err = run(["qa", "train", "--train", data, "--dev", files[2], "--out", tmp_path / "m", "--model", tiny_bert, *SMALL,
                          "--epochs", "1", "--train-layers", "0", "--threads", "1"], capsys)
    assert code == 0, err
    assert "1 answer(s) whose answer_start does not match the text were skipped" in err
    assert "4 training questions" in err and "saved" in err
    assert "exact" in out and "f1" in out and "best_f1" in out


def test_evaluate_v2_json_and_prediction_files(model_dir, files, tmp_path, capsys):
    code, out, err = run(["qa", "evaluate", "--model", model_dir, "--data", files[2], "--out", tmp_path, "--json"], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert {"exact", "f1", "total", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1_thresh"} <= set(metrics)
    assert metrics["total"] == 5
    preds = json.loads((tmp_path / "predictions.json").read_text())
    odds = json.loads((tmp_path / "null_odds.json").read_text())
    assert set(preds) == set(odds) == {f"q{i}" for i in range(5)}


def test_evaluate_v1_table(model_dir, files, tmp_path, capsys):
    code, out, err = run(["qa", "evaluate", "--model", model_dir, "--data", files[1], "--out", tmp_path], capsys)
    assert code == 0, err
    assert "exact_match" in out and "SQuAD 1.1" in out
    assert (tmp_path / "predictions.json").exists() and not (tmp_path / "null_odds.json").exists()


CONTEXT = "Marie Curie was born in Warsaw in 1867. She won the Nobel Prize in Physics in 1903."


def test_ask_text_json_top_k_and_context_file(model_dir, tmp_path, capsys):
    code, out, err = run(["qa", "ask", "-m", model_dir, "-q", "Where was she born?", "-c", CONTEXT], capsys)
    assert code == 0, err and out.strip()
    code, out, _ = run(["qa", "ask", "-m", model_dir, "-q", "Where was she born?", "-c", CONTEXT, "--json", "--top-k", "3"], capsys)
    result = json.loads(out)
    assert len(result["candidates"]) == 3
    if result["no_answer"]:
        assert result["answer"] is None
    else:
        assert CONTEXT[result["start"] : result["end"]] == result["answer"]
    ctx = tmp_path / "ctx.txt"
    ctx.write_text(CONTEXT, encoding="utf-8")
    code, out2, _ = run(["qa", "ask", "-m", model_dir, "-q", "Where was she born?", "--context-file", ctx, "--json", "--top-k", "3"], capsys)
    assert code == 0 and json.loads(out2) == result


def test_ask_explain_writes_a_png(model_dir, tmp_path, capsys):
    png = tmp_path / "why.png"
    code, out, err = run(["qa", "ask", "-m", model_dir, "-q", "When?", "-c", CONTEXT, "--explain", "--plot", png], capsys)
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG" and "p(start)" in out and "warsaw" in out


def test_ask_batch_jsonl(model_dir, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps({"id": i, "question": q, "context": CONTEXT}) for i, q in enumerate(["Where?", "When?"])) + "\n")
    dst = tmp_path / "out.jsonl"
    code, _, err = run(["qa", "ask", "-m", model_dir, "--input", src, "-o", dst], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["0", "1"] and all("answer" in r and "no_answer" in r for r in rows)
    assert "2 answers" in err


def test_long_question_is_cut_and_reported(model_dir, capsys):
    code, _, err = run(["qa", "ask", "-m", model_dir, "-q", "why " * 40 + "?", "-c", CONTEXT], capsys)
    assert code == 0 and "1 question(s) longer than 16 tokens were cut" in err


def _bad_inputs(tmp: Path, model_dir: Path, v2: Path, tiny_bert: Path):
    malformed = squad_dict()
    malformed["data"][0]["paragraphs"][1]["qas"][0]["answers"][0]["answer_start"] = "x"
    bad_json = write_squad(tmp / "malformed.json", malformed)
    not_json = tmp / "not.json"
    not_json.write_text("{oops")
    altered = tmp / "altered"
    altered.mkdir(exist_ok=True)
    for f in model_dir.iterdir():
        if f.is_file():
            (altered / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((altered / "bertkit.json").read_text())
    cfg["null_threshold"] = 5.0
    (altered / "bertkit.json").write_text(json.dumps(cfg))
    incomplete = tmp / "incomplete"
    incomplete.mkdir(exist_ok=True)
    (incomplete / "bertkit.json").write_text("{}")
    no_context = tmp / "noctx.jsonl"
    no_context.write_text('{"question": "Where?", "context": "Here."}\n{"question": "When?"}\n')
    empty_q = tmp / "emptyq.jsonl"
    empty_q.write_text('{"question": " ", "context": "Here."}\n')
    a_file = tmp / "afile.txt"
    a_file.write_text("x")
    out = tmp / "never.jsonl"
    train = ["qa", "train", "--out", tmp / "never_model", "--model", tiny_bert]
    ask = ["qa", "ask", "-m", model_dir]
    return [
        (train + ["--train", tmp / "missing.json"], "missing.json: no such file"),
        (train + ["--train", bad_json, *SMALL], "data[0].paragraphs[1].qas[0].answers[0].answer_start: expected an integer"),
        (train + ["--train", not_json, *SMALL], "not.json, line 1, column 2: malformed JSON"),
        (train + ["--train", v2, "--max-length", "64"], "leaves no room for context"),
        (train + ["--train", v2, *SMALL, "--train-layers", "top"], "--train-layers must be 'all' or a number"),
        (train + ["--train", v2, *SMALL, "--train-layers", "9"], "--train-layers 9 exceeds the encoder's 3 layers"),
        (["qa", "evaluate", "--data", v2, "--model", tmp / "nowhere"], "does not exist"),
        (["qa", "evaluate", "--data", v2, "--model", altered], "bertkit.json was altered after saving"),
        (["qa", "evaluate", "--data", v2, "--model", incomplete], "incomplete model directory"),
        (["qa", "evaluate", "--data", v2, "--model", model_dir, "--out", a_file], "is a file"),
        (["qa", "evaluate", "--data", bad_json, "--model", model_dir], "answer_start: expected an integer"),
        (ask + ["-q", "", "-c", "Some context."], "--question is empty"),
        (ask + ["-q", "Where?", "-c", "   "], "the context is empty"),
        (ask + ["-q", "Where?"], "needs a context"),
        (ask + ["-q", "Where?", "-c", "x", "--context-file", a_file], "either --context or --context-file"),
        (ask + ["-q", "Where?", "--context-file", tmp / "nope.txt"], "nope.txt: no such file"),
        (ask + ["--input", no_context], "--input needs --output"),
        (ask + ["--input", no_context, "-o", out], "noctx.jsonl, line 2: missing field 'context'"),
        (ask + ["--input", empty_q, "-o", out], "emptyq.jsonl, line 1: empty question"),
        (ask + ["--input", no_context, "-o", tmp / "out.csv"], "use a .jsonl file"),
        (ask, "give --question"),
    ]


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_bad_input_one_line_exit_2_no_partial_output(model_dir, files, tiny_bert, tmp_path, capsys):
    for argv, message in _bad_inputs(tmp_path, model_dir, files[2], tiny_bert):
        code, out, err = run(argv, capsys)
        assert code == 2, (argv, err)
        assert err.startswith("bertkit: error: ") and err.count("\n") == 1, err
        assert message in err, (message, err)
        assert "Traceback" not in err and out == ""
    assert not (tmp_path / "never.jsonl").exists() and not (tmp_path / "never_model").exists()
    assert not (tmp_path / "predictions.json").exists()


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_evaluate_and_ask_on_onnx_match_torch(model_dir, files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))
    base = ["qa", "evaluate", "--model", model_dir, "--data", files[2], "--out", tmp_path, "--json"]
    code, torch_out, err = run(base, capsys)
    assert code == 0, err
    code, onnx_out, err = run(base + ["--backend", "onnx"], capsys)
    assert code == 0, err
    assert json.loads(onnx_out)["f1"] == pytest.approx(json.loads(torch_out)["f1"])
    ask = ["qa", "ask", "--model", model_dir, "-q", "Where was Marie Curie born?", "-c", "Marie Curie was born in Warsaw in 1867.", "--json"]
    code, torch_out, _ = run(ask, capsys)
    code2, onnx_out, err = run(ask + ["--backend", "onnx"], capsys)
    assert code == code2 == 0, err
    assert json.loads(onnx_out)["answer"] == json.loads(torch_out)["answer"]
    code, _, err = run(ask + ["--backend", "torch", "--dtype", "int8"], capsys)
    assert code == 2 and "int8 runs on backend 'onnx'" in err and len(err.strip().splitlines()) == 1


def test_calibrate_sets_the_threshold_from_held_out_questions(model_dir, files, tmp_path, capsys):
    import shutil

    tmp, v1, v2 = files
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    config_before = (copy / "bertkit.json").read_text()
    code, out, err = run(["qa", "calibrate", "--model", copy, "--data", v2, "--dry-run"], capsys)
    assert code == 0, err
    assert "null threshold" in out and "5 held-out questions (1 unanswerable) of v2.json" in out
    assert (copy / "bertkit.json").read_text() == config_before
    code, out, err = run(["qa", "calibrate", "--model", copy, "--data", v2], capsys)
    assert code == 0 and "saved in" in out
    assert json.loads((copy / "bertkit.json").read_text())["training"]["null_threshold"]["data"] == "v2.json"
    code, out, err = run(["qa", "calibrate", "--model", copy, "--data", v1], capsys)
    assert code == 2 and "--data v1.json must be SQuAD 2.0" in err and "Traceback" not in err


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_train_with_threshold_data_reports_the_chosen_threshold(files, tiny_bert, tmp_path, capsys):
    tmp, v1, v2 = files
    argv = ["qa", "train", "--train", v2, "--threshold-data", v2, "--out", tmp_path / "m", "--model", tiny_bert, *SMALL,
            "--epochs", "1", "--batch-size", "5", "--train-layers", "1", "--threads", "1"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "chosen on v2.json" in err
    assert json.loads((tmp_path / "m" / "bertkit.json").read_text())["training"]["null_threshold"]["questions"] == 5
    code, out, err = run([*argv[:4], "--threshold-data", v1, *argv[6:]], capsys)
    assert code == 2 and "--threshold-data v1.json must be SQuAD 2.0" in err
