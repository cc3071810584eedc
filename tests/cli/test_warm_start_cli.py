"""A warm ``bertkit embed`` / ``classify predict`` runs without torch or transformers, with the
full path's output; a cold or damaged cache runs the full path (and warms it again).

Each run is a fresh interpreter (the test process has torch loaded already) that reports
which heavy modules the command imported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classification"))
from tiny_data import make_tiny_bert, sentiment_rows, write_rows  # noqa: E402

pytestmark = pytest.mark.slow  # several fresh interpreters, some loading torch (seconds each)

HEAVY = ("torch", "transformers", "sentence_transformers", "safetensors")
PROBE = """
import json, sys
from bertkit.cli.app import main
code = main(sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def run(args: list[str], cwd: Path, cache: Path, stdin: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("BERTKIT_BACKEND", "BERTKIT_DTYPE")}
    env["BERTKIT_CACHE"] = str(cache)
    done = subprocess.run([sys.executable, "-c", PROBE, *args], input=stdin, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)
    *lines, last = done.stderr.strip().splitlines()
    result = json.loads(last)
    assert result["code"] == 0, done.stderr
    return {**result, "stdout": done.stdout, "stderr": "\n".join(lines)}


def _summary(stderr: str) -> str:
    """What the command said (the summary line and any note), timings masked."""
    return re.sub(r"[\d.]+ s, [\d.]+ texts/s", "T", stderr.strip())


def _flip_export(cache: Path) -> None:
    model = next((cache / "onnx").glob("*/model.onnx"))
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))


def _auto_is_onnx() -> bool:
    from bertkit.engine.runtime import resolve_runtime

    env = {k: os.environ.pop(k) for k in ("BERTKIT_BACKEND", "BERTKIT_DTYPE") if k in os.environ}
    try:
        return resolve_runtime(cuda=False).backend == "onnx"
    finally:
        os.environ.update(env)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("warm-cli") / "bert")


def test_one_line_embed_warm_cold_and_damaged(tiny, tmp_path):
    args = ["embed", "-", "--model", str(tiny), "--backend", "onnx", "-o"]
    cache = tmp_path / "cache"
    cold = run(args + ["cold.npy"], tmp_path, cache, "one line\n")
    assert "torch" in cold["heavy"]
    warm = run(args + ["warm.npy"], tmp_path, cache, "one line\n")
    assert warm["heavy"] == [], f"a warm embed imported {warm['heavy']}"
    np.testing.assert_array_equal(np.load(tmp_path / "warm.npy"), np.load(tmp_path / "cold.npy"))
    assert _summary(warm["stderr"]).replace("warm.npy", "cold.npy") == _summary(cold["stderr"])
    _flip_export(cache)
    damaged = run(args + ["damaged.npy"], tmp_path, cache, "one line\n")
    assert "torch" in damaged["heavy"] and "the cached ONNX export is damaged" in damaged["stderr"]
    np.testing.assert_array_equal(np.load(tmp_path / "damaged.npy"), np.load(tmp_path / "cold.npy"))
    assert run(args + ["again.npy"], tmp_path, cache, "one line\n")["heavy"] == []  # re-exported, warm again


def test_multi_line_embed_matches_the_full_path(tiny, tmp_path):
    lines = ["first line", "a much longer second line " * 40, "Naïve café", "[SEP] last"]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["embed", "in.txt", "--model", str(tiny), "--backend", "onnx", "--pooling", "max", "--normalize", "-o"]
    cold = run(args + ["cold.npy"], tmp_path, tmp_path / "cache")
    warm = run(args + ["warm.npy"], tmp_path, tmp_path / "cache")
    assert "torch" in cold["heavy"] and warm["heavy"] == []
    np.testing.assert_allclose(np.load(tmp_path / "warm.npy"), np.load(tmp_path / "cold.npy"), rtol=0, atol=1e-5)
    said = _summary(warm["stderr"])
    assert said.replace("warm.npy", "cold.npy") == _summary(cold["stderr"])
    assert "1 cut to max length" in said and "note: 1 text(s) longer than 128 tokens were cut" in said


def test_classify_predict_warm(tiny, tmp_path):
    train = write_rows(tmp_path / "train.csv", sentiment_rows(24))
    out = tmp_path / "model"
    cache = tmp_path / "cache"
    run(["classify", "train", "--train", str(train), "--dev", str(train), "--out", str(out), "--base", str(tiny),
         "--mode", "features", "--epochs", "2"], tmp_path, cache)
    args = ["classify", "predict", "--model", str(out), "--backend", "onnx", "--json", "--top-k", "2", "great film", "awful, dull"]
    cold = run(args, tmp_path, cache)
    warm = run(args, tmp_path, cache)
    assert "torch" in cold["heavy"] and warm["heavy"] == [], f"a warm classify predict imported {warm['heavy']}"
    assert warm["stdout"] == cold["stdout"]


@pytest.mark.skipif(not _auto_is_onnx(), reason="auto picks torch on this machine: no warm ONNX start")
def test_the_readme_one_liners_with_auto(tmp_path):
    """The start-up goal's commands, as written (the packaged MiniLM, the shipped sentiment model)."""
    cache = tmp_path / "cache"
    run(["embed", "-", "-o", "cold.npy"], tmp_path, cache, "one line\n")
    warm = run(["embed", "-", "-o", "one.npy"], tmp_path, cache, "one line\n")
    assert warm["heavy"] == []
    np.testing.assert_array_equal(np.load(tmp_path / "one.npy"), np.load(tmp_path / "cold.npy"))
    args = ["classify", "predict", "--json", "a gorgeous, witty film"]
    cold = run(args, tmp_path, cache)
    warm = run(args, tmp_path, cache)
    assert warm["heavy"] == [] and warm["stdout"] == cold["stdout"]
    assert json.loads(warm["stdout"])["label"] == "positive"
