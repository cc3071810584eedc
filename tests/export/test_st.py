"""`bertkit export --format sentence-transformers`: an embedder as a directory that
``SentenceTransformer(OUT)`` loads with the same vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertkit import Embedder
from bertkit.cli.app import main

TEXTS = ["A gorgeous, witty film.", "", "Naïve café owners déjà vu — really?", "the cat sat on the mat " * 30]


@pytest.fixture(autouse=True)
def _threads(one_thread):
    """Tiny models on one torch thread."""


def _encode(directory) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(directory), device="cpu").encode(TEXTS)


@pytest.mark.parametrize("pooling, normalize", [
    ("cls", True), ("mean_sqrt_len+cls", True),  # the second needs pooling_mode (not the boolean keys' order)
    pytest.param("mean+max", False, marks=pytest.mark.slow), pytest.param("max", False, marks=pytest.mark.slow),
])
def test_plain_directory_with_a_pooling(tiny_bert, tmp_path, capsys, pooling, normalize):
    out = tmp_path / "st"
    argv = ["export", "--format", "sentence-transformers", str(tiny_bert), str(out), "--pooling", pooling]
    assert main(argv + (["--normalize"] if normalize else [])) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"wrote {out}: sentence-transformers modules Transformer, Pooling") and len(err.strip().splitlines()) == 1, err
    want = Embedder(tiny_bert, pooling=pooling, normalize=normalize, device="cpu").embed(TEXTS)
    got = _encode(out)
    np.testing.assert_allclose(got, want, atol=1e-4)
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((out / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling"] + (["Normalize"] if normalize else [])


@pytest.mark.slow
def test_the_default_model_round_trips(tmp_path, capsys):
    out = tmp_path / "minilm"
    assert main(["export", "--format", "sentence-transformers", str(out)]) == 0
    np.testing.assert_allclose(_encode(out), Embedder(device="cpu").embed(TEXTS), atol=1e-4)


def test_a_dense_pipeline_round_trips(tiny_bert, tmp_path):
    import torch

    from st_tiny import save_st

    src = save_st(tmp_path / "src", tiny_bert, "mean", dense=torch.nn.Tanh(), normalize=True)
    out = tmp_path / "again"
    assert main(["export", "--format", "sentence-transformers", str(src), str(out)]) == 0
    np.testing.assert_allclose(_encode(out), _encode(src), atol=1e-4)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--pooling", "attention"], "pooling 'attention' has no sentence-transformers Pooling mode"),
        (["--pooling", "min"], "pooling 'min' has no sentence-transformers Pooling mode"),
        (["--layers", "-2"], "a sentence-transformers Transformer gives the last layer only"),
        (["--dtype", "int8"], "--dtype applies to --format onnx"),
    ],
)
def test_what_sentence_transformers_cannot_hold_is_refused(tiny_bert, tmp_path, capsys, extra, message):
    code = main(["export", "--format", "sentence-transformers", str(tiny_bert), str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.*"))
