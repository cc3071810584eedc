"""torchrun: 2 gloo processes train what one process trains on the merged batches, resume after
a kill, and ``classify train`` / ``qa train`` run unchanged under it (rank 0 writes)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(HERE.parents[1]))
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def _run(argv, check=True):
    proc = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return proc


def _close(a: dict, b: dict, atol=1e-5) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol) for k in a)


def test_two_ranks_equal_one_process_on_merged_batches_and_resume(tmp_path):
    toy = str(HERE / "ddp_toy.py")
    _run(TORCHRUN + [toy, str(tmp_path / "ddp")])
    _run([sys.executable, toy, str(tmp_path / "one"), "--merge", "2"])
    ddp0, ddp1 = (load_file(str(tmp_path / "ddp" / f"final-{r}.safetensors")) for r in (0, 1))
    one = load_file(str(tmp_path / "one" / "final-0.safetensors"))
    assert _close(ddp0, ddp1, atol=0) and _close(ddp0, one)  # gradients averaged over the ranks
    result = json.loads((tmp_path / "ddp" / "result.json").read_text())
    assert result["world_size"] == 2 and result["steps"] == 24 and result["examples"] == 3 * 64
    assert not (tmp_path / "ddp" / "checkpoint").exists()

    # every rank killed at its 11th step (epoch 2, step 3; the last checkpoint is at step 10), then resumed
    killed = _run(TORCHRUN + [toy, str(tmp_path / "resume"), "--fail-at", "11"], check=False)
    assert killed.returncode != 0 and (tmp_path / "resume" / "checkpoint" / "state.json").is_file()
    _run(TORCHRUN + [toy, str(tmp_path / "resume"), "--resume"])
    assert json.loads((tmp_path / "resume" / "result.json").read_text())["resumed_at"] == [1, 2]
    assert _close(load_file(str(tmp_path / "resume" / "final-0.safetensors")), ddp0, atol=1e-6)


def test_classify_train_with_nproc_2(tmp_path):
    sys.path.insert(0, str(HERE.parent / "classification"))
    from tiny_data import make_tiny_bert, sentiment_rows, write_rows

    base = make_tiny_bert(tmp_path / "tiny")
    write_rows(tmp_path / "train.csv", sentiment_rows(48))
    write_rows(tmp_path / "dev.csv", sentiment_rows(16))
    out = tmp_path / "model"
    proc = _run([sys.executable, "-m", "bertkit", "classify", "train", "--train", str(tmp_path / "train.csv"),
                 "--dev", str(tmp_path / "dev.csv"), "--base", str(base), "--out", str(out), "--epochs", "2",
                 "--batch-size", "8", "--nproc", "2", "--json"])
    report = json.loads(proc.stdout.strip().splitlines()[-1])  # one report: rank 0's
    assert len(proc.stdout.strip().splitlines()) == 1 and report["models"][0]["pooling"] == "mean"
    assert proc.stderr.count("saved ") == 1 and "starting 2 processes" in proc.stderr
    assert len(json.loads((out / "history.json").read_text())) == 2
    import bertkit

    clf = bertkit.load_classifier(out, backend="torch", dtype="fp32", device="cpu")
    assert len(clf.predict(["a great film"])) == 1


def test_qa_train_under_torchrun(tmp_path, tiny_bert):
    sys.path.insert(0, str(HERE.parent / "qa"))
    from qa_tiny_squad import squad_dict, write_squad

    data = write_squad(tmp_path / "train.json", squad_dict())
    out = tmp_path / "qa"
    _run(TORCHRUN + ["-m", "bertkit", "qa", "train", "--train", str(data), "--dev", str(data), "--out", str(out),
                     "--model", str(tiny_bert), "--epochs", "2", "--batch-size", "4", "--max-length", "64",
                     "--doc-stride", "16", "--max-question-length", "16"])
    import bertkit

    reader = bertkit.load_reader(out, backend="torch", dtype="fp32", device="cpu")
    assert len(json.loads((out / "history.json").read_text())) == 2
    assert len(reader.answer(["Who?"], ["Ada wrote it."])) == 1
