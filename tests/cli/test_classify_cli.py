"""``bertkit classify train / evaluate / predict`` end to end on a tiny random BERT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classification"))
from tiny_data import make_tiny_bert, sentiment_rows, write_rows  # noqa: E402

from bertkit.cli.app import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BERTKIT_CACHE", str(root / "cache"))
        bert = make_tiny_bert(root / "bert")
        train = write_rows(root / "train.csv", sentiment_rows(24))
        dev = write_rows(root / "dev.csv", sentiment_rows(8))
        yield {"root": root, "bert": bert, "train": train, "dev": dev}


@pytest.fixture(scope="module")
def attention_model(env):
    out = env["root"] / "attn"
    code = main(["classify", "train", "--train", str(env["train"]), "--dev", str(env["dev"]), "--out", str(out),
                 "--base", str(env["bert"]), "--pooling", "attention", "--epochs", "2", "--lr", "1e-3", "--batch-size", "8"])
    assert code == 0
    return out


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_writes_model_directory(attention_model):
    files = {p.name for p in attention_model.iterdir()}
    assert {"bertkit.json", "head.safetensors", "encoder", "training_curves.png", "history.json"} <= files


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_train_features_all_json(env, tmp_path, capsys):
    code, out, err = run(["classify", "train", "--train", str(env["train"]), "--dev-split", "0.25", "--out", str(tmp_path / "all"),
                          "--base", str(env["bert"]), "--mode", "features", "--pooling", "all", "--epochs", "2", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert [m["pooling"] for m in report["models"]][-1] == "ensemble"
    assert report["dev_size"] == 6 and report["train_size"] == 18
    assert (tmp_path / "all" / "comparison.png").is_file()
    code, out, err = run(["classify", "evaluate", "--model", str(tmp_path / "all"), "--data", str(env["dev"]), "--json"], capsys)
    assert code == 0 and 0.0 <= json.loads(out)["accuracy"] <= 1.0


def test_evaluate_table_json_and_plots(env, attention_model, tmp_path, capsys):
    code, out, err = run(["classify", "evaluate", "-m", str(attention_model), "--data", str(env["dev"]), "--json", "--plots", str(tmp_path / "p")], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert set(report) >= {"accuracy", "macro_f1", "per_class", "confusion"}
    assert sum(map(sum, report["confusion"])) == 8
    assert (tmp_path / "p" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = run(["classify", "evaluate", "-m", str(attention_model), "--data", str(env["dev"])], capsys)
    assert code == 0 and "macro-F1" in out and "confusion matrix" in out


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_predict_args_file_topk_json_explain(env, attention_model, tmp_path, capsys):
    code, out, err = run(["classify", "predict", "-m", str(attention_model), "a lovely film", "a dull film", "--top-k", "2", "--json"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in rows] == ["a lovely film", "a dull film"]
    assert all(len(r["top"]) == 2 and abs(sum(t["probability"] for t in r["top"]) - 1) < 1e-4 for r in rows)
    (tmp_path / "in.txt").write_text("a lovely film\na dull film\n")
    for name in ("out.jsonl", "out.csv", "out.tsv"):
        code, _, err = run(["classify", "predict", "-m", str(attention_model), "--input", str(tmp_path / "in.txt"), "-o", str(tmp_path / name)], capsys)
        assert code == 0, err
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "text,label,label_1,probability_1"
    code, out, err = run(["classify", "predict", "-m", str(attention_model), "a lovely film", "--explain", "--plot", str(tmp_path / "x" / "why.png"), "--json"], capsys)
    assert code == 0, err
    explained = json.loads(out)
    assert explained["tokens"][0] == "[CLS]" and abs(sum(explained["weights"]) - 1) < 1e-3
    assert (tmp_path / "x" / "why.png").is_file() and explained["png"] == str(tmp_path / "x" / "why.png")


def test_explain_writes_no_png_unless_asked(attention_model, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["classify", "predict", "-m", str(attention_model), "a lovely film", "a dull film", "--explain"], capsys)
    assert code == 0, err
    assert list(tmp_path.iterdir()) == [] and "wrote" not in out
    code, out, err = run(["classify", "predict", "-m", str(attention_model), "a lovely film", "a dull film", "--explain", "--plot", "w.png"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w_1.png", "w_2.png"]
    code, _, err = run(["classify", "predict", "-m", str(attention_model), "a lovely film", "--plot", "w.png"], capsys)
    assert code == 2 and "--plot needs --explain" in err


def test_shipped_model_needs_no_model_option(capsys):
    from bertkit.modeldir import default_model_dir

    if not (default_model_dir("classifier") / "bertkit.json").is_file():
        pytest.skip("the shipped sentiment model is not built yet")
    code, out, err = run(["classify", "predict", "a gorgeous, witty film", "a dull, lifeless mess", "--json"], capsys)
    assert code == 0, err
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["positive", "negative"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_column", "unknown column 'label'"),
        ("single_class", "at least two classes"),
        ("empty_text", "line 3: empty text"),
        ("malformed", "line 3: expected 2 fields"),
        ("bad_pooling", "unknown pooling 'median'"),
        ("bad_mode", "unknown mode 'magic'"),
        ("dev_unknown_label", "label 'meh' was not seen in training"),
        ("bad_freeze", "--freeze-epochs: must be in 0..1 (at most --epochs), got 5"),  # the library's freeze_epochs, named by its flag
        ("bad_dropout", "--dropout must be in [0, 1), got 1.5"),
        ("bad_delta", "unknown delta 'int2'; valid options: fp16, int8, int4"),
        ("delta_other_base", "--delta needs the packaged all-MiniLM-L6-v2 as base"),
        ("bad_train_layers", "--train-layers must be 'all' or a number of top encoder layers, got 'top'"),
        ("too_many_layers", "--train-layers 7 exceeds the encoder's 2 layers"),
        ("bad_threads", "'--threads': Input should be greater than or equal to 1"),
    ],
)
def test_train_bad_input_exit_2_and_no_output(env, tmp_path, capsys, case, message):
    train, extra = str(env["train"]), []
    if case == "missing_column":
        train = str(write_rows(tmp_path / "t.csv", [{"text": "a", "y": "1"}, {"text": "b", "y": "0"}]))
    elif case == "single_class":
        train = str(write_rows(tmp_path / "t.csv", [{"text": "a", "label": "1"}, {"text": "b", "label": "1"}]))
    elif case == "empty_text":
        train = str(write_rows(tmp_path / "t.csv", [{"text": "a", "label": "1"}, {"text": "", "label": "0"}]))
    elif case == "malformed":
        (tmp_path / "t.csv").write_text("text,label\nfine,1\nnot,fine,0\n")
        train = str(tmp_path / "t.csv")
    elif case == "bad_pooling":
        extra = ["--pooling", "median"]
    elif case == "bad_mode":
        extra = ["--mode", "magic"]
    elif case == "bad_freeze":
        extra = ["--freeze-epochs", "5"]
    elif case == "bad_dropout":
        extra = ["--dropout", "1.5"]
    elif case in ("bad_delta", "delta_other_base"):
        extra = ["--delta", "int2" if case == "bad_delta" else "int8"]
    elif case in ("bad_train_layers", "too_many_layers"):
        extra = ["--train-layers", "top" if case == "bad_train_layers" else "7"]
    elif case == "bad_threads":
        extra = ["--threads", "0"]
    elif case == "dev_unknown_label":
        extra = ["--dev", str(write_rows(tmp_path / "d.csv", [{"text": "a", "label": "pos"}, {"text": "b", "label": "meh"}]))]
    out = tmp_path / "model"
    code, stdout, err = run(["classify", "train", "--train", train, "--out", str(out), "--base", str(env["bert"]), "--epochs", "1", *extra], capsys)
    assert code == 2
    assert message in err and err.startswith("bertkit: error:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_evaluate_and_predict_bad_input(env, attention_model, tmp_path, capsys):
    data = write_rows(tmp_path / "e.csv", [{"text": "a", "label": "pos"}, {"text": "b", "label": "neutral"}])
    code, _, err = run(["classify", "evaluate", "-m", str(attention_model), "--data", str(data)], capsys)
    assert code == 2 and "label 'neutral' was not seen in training" in err
    code, _, err = run(["classify", "evaluate", "-m", str(tmp_path / "nowhere"), "--data", str(env["dev"])], capsys)
    assert code == 2 and "does not exist" in err
    code, _, err = run(["classify", "predict", "-m", str(attention_model)], capsys)
    assert code == 2 and "exactly one of the two" in err
    code, _, err = run(["classify", "predict", "-m", str(attention_model), "x", "-o", str(tmp_path / "o.npy")], capsys)
    assert code == 2 and "unsupported extension" in err and not (tmp_path / "o.npy").exists()
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{"text": \n')
    code, _, err = run(["classify", "predict", "-m", str(attention_model), "--input", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "o.jsonl")], capsys)
    assert code == 2 and "line 2: malformed JSON" in err and not (tmp_path / "o.jsonl").exists()


def test_altered_model_dir_refused(env, attention_model, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(attention_model, copy)
    with open(copy / "encoder" / "model.safetensors", "r+b") as fh:
        fh.seek(-8, 2)
        fh.write(b"\x01" * 8)
    code, _, err = run(["classify", "predict", "-m", str(copy), "hello"], capsys)
    assert code == 2 and "encoder/model.safetensors was altered" in err
    (copy / "encoder" / "model.safetensors").unlink()
    code, _, err = run(["classify", "predict", "-m", str(copy), "hello"], capsys)
    assert code == 2 and "incomplete model directory" in err


@pytest.mark.slow  # a real MiniLM export / several CLI processes: over 5 s on 2 cores
def test_resume_after_kill_mid_epoch(env, tmp_path, capsys):
    rows = sentiment_rows(240)
    train = write_rows(tmp_path / "big.csv", rows)
    out = tmp_path / "killed"
    args = ["classify", "train", "--train", str(train), "--dev", str(env["dev"]), "--out", str(out), "--base", str(env["bert"]),
            "--epochs", "2", "--batch-size", "2", "--checkpoint-every", "5", "--lr", "1e-3"]
    proc = subprocess.Popen([sys.executable, "-m", "bertkit", *args], cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / ".train" / "checkpoint" / "state.json"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if state.is_file() and json.loads(state.read_text())["state"]["global_step"] >= 10:
                break
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint was written")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (out / "bertkit.json").exists()  # killed: no model yet
    code, _, err = run([*args, "--resume"], capsys)
    assert code == 0, err
    assert "resumed from checkpoint: epoch 1, step" in err
    assert (out / "bertkit.json").is_file() and not (out / ".train").exists()
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_evaluate_and_predict_on_onnx_match_torch(env, attention_model, capsys):
    base = ["classify", "evaluate", "-m", str(attention_model), "--data", str(env["dev"]), "--json"]
    code, torch_out, err = run(base, capsys)
    assert code == 0, err
    code, onnx_out, err = run(base + ["--backend", "onnx"], capsys)
    assert code == 0, err
    assert json.loads(onnx_out)["confusion"] == json.loads(torch_out)["confusion"]
    texts = ["a good film", "bad, very bad", "fine"]
    code, torch_out, err = run(["classify", "predict", *texts, "-m", str(attention_model), "--json"], capsys)
    code2, onnx_out, err2 = run(["classify", "predict", *texts, "-m", str(attention_model), "--json", "--backend", "onnx"], capsys)
    assert code == code2 == 0, err + err2
    for a, b in zip(torch_out.splitlines(), onnx_out.splitlines()):
        a, b = json.loads(a), json.loads(b)
        assert a["label"] == b["label"] and abs(a["top"][0]["probability"] - b["top"][0]["probability"]) < 1e-4


@pytest.mark.parametrize("argv, message", [
    (["--backend", "torch", "--dtype", "int8"], "dtype 'int8' is not available on backend 'torch'; valid options: fp32, bf16, fp16; int8 runs on backend 'onnx'"),
    (["--backend", "onnx", "--dtype", "bf16"], "dtype 'bf16' is not available on backend 'onnx'; valid options: fp32, int8"),
    (["--backend", "tvm"], "backend 'tvm'"),
])
def test_bad_backend_options(attention_model, argv, message, capsys):
    code, _, err = run(["classify", "predict", "fine", "-m", str(attention_model), *argv], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_explain_shows_only_real_tokens_when_batches_are_padded(attention_model):
    """bf16 on the CPU pads batches to a multiple of 16 tokens: explain must not list the padding."""
    from bertkit import load_classifier

    clf = load_classifier(attention_model, backend="torch", dtype="bf16")
    ex = clf.explain("a good film")
    assert ex.tokens[0] == "[CLS]" and ex.tokens[-1] == "[SEP]" and "[PAD]" not in ex.tokens
    assert len(ex.weights) == len(ex.tokens)
    assert abs(sum(ex.weights) - 1.0) < 1e-2


@pytest.mark.parametrize("model, message", [
    ("attn", "its encoder is not a fine-tuned all-MiniLM-L6-v2"),
    ("missing", "does not exist; expected a bertkit classifier model directory"),
])
def test_compact_bad_model_exit_2_and_no_output(env, attention_model, tmp_path, capsys, model, message):
    source = attention_model if model == "attn" else tmp_path / "nothing-here"
    out = tmp_path / "small"
    code, _, err = run(["classify", "compact", "--model", str(source), "--out", str(out), "--delta", "int4"], capsys)
    assert code == 2 and message in err and err.startswith("bertkit: error:") and len(err.strip().splitlines()) == 1
    assert not (out / "manifest.json").exists()


def test_predict_json_gives_a_multi_label_models_labels(tmp_path, capsys):
    """A multi-label classifier predicts every label over 0.5: --json says which (``labels``)."""
    from hf_tiny import CLASS_LABELS, TEXTS, save_checkpoint

    model = save_checkpoint(tmp_path / "multi", "classifier", multi_label=True, seed=1)
    args = ["classify", "predict", "--model", str(model), "--backend", "torch", "--dtype", "fp32", "--top-k", str(len(CLASS_LABELS))]
    code, out, err = run([*args, "--json", *TEXTS], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    want = [[t["label"] for t in sorted(r["top"], key=lambda t: CLASS_LABELS.index(t["label"])) if t["probability"] > 0.5] for r in rows]
    assert any(len(labels) != 1 for labels in want)  # not what "label" alone would say
    assert [r["labels"] for r in rows] == want
