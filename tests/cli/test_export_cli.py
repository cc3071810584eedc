"""`bertkit export` and `bertkit embed --backend onnx`, as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertkit import Embedder
from bertkit.cli.app import main


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path_factory.getbasetemp() / "bertkit-cache"))


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_exported_dir_serves_with_onnxruntime_and_tokenizer_alone(tiny_bert, tmp_path, capsys):
    out = tmp_path / "exported"
    assert main(["export", "--out", str(out), "--model", str(tiny_bert), "--pooling", "mean+max"]) == 0
    assert "wrote" in capsys.readouterr().err
    cfg = json.loads((out / "bertkit.json").read_text())
    assert cfg["task"] == "onnx-export" and cfg["pooling"] == "mean+max" and cfg["dim"] == 64
    from bertkit.engine.onnx_export import read_export_info

    assert read_export_info(out).dim == 64  # a verified model directory: manifest over model, config and tokenizer

    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    texts = ["hello there", "a slightly longer sentence"]
    tok.enable_padding(pad_id=0)
    enc = tok.encode_batch(texts)
    feed = {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
    }
    session = ort.InferenceSession(str(out / cfg["model_file"]), providers=["CPUExecutionProvider"])
    vecs = session.run(None, {k: feed[k] for k in cfg["inputs"]})[0]
    np.testing.assert_allclose(vecs, Embedder(tiny_bert, pooling="mean+max").embed(texts), atol=2e-4)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_embed_with_onnx_backend_and_check(tiny_bert, tmp_path, capsys):
    src = tmp_path / "t.txt"
    src.write_text("one\ntwo words\n\nthree more words\n")
    out = tmp_path / "v.npy"
    code = main(["embed", str(src), "-o", str(out), "--model", str(tiny_bert), "--backend", "onnx", "--check"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "check: onnx fp32 vs torch fp32: mean cosine 1.0000" in err
    np.testing.assert_allclose(np.load(out), Embedder(tiny_bert).embed(["one", "two words", "", "three more words"]), atol=2e-4)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "--out", "{d}/x", "--format", "tflite"], "unknown export format 'tflite'; valid options: onnx, hf, sentence-transformers"),
        (["export", "--out", "{d}/x", "--dtype", "bf16"], "'bf16' is not available on backend 'onnx'"),
        (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--backend", "tvm"], "unknown backend 'tvm'"),
        (["embed", "{d}/t.txt", "-o", "{d}/o.npy", "--backend", "torch", "--dtype", "int8"], "int8 runs on backend 'onnx'"),
        (["embed", "{d}/t.txt", "-o", "{d}/o.jsonl", "--backend", "onnx", "--tokens"], "need the torch backend"),
    ],
)
def test_bad_input(tiny_bert, tmp_path, capsys, argv, message):
    (tmp_path / "t.txt").write_text("a\n")
    code = main([a.format(d=tmp_path) for a in argv] + ["--model", str(tiny_bert)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob("o.*"))
