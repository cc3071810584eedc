"""sentence-transformers directories load as they are: tiny random models saved by
sentence-transformers itself, embedded by bertkit without ``pooling``, against ``.encode``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from bertkit import Embedder
from bertkit.errors import ModelLoadError
from st_tiny import save_st

TEXTS = ["A gorgeous, witty film.", "", "Naïve café owners déjà vu — really?", "short", "the cat sat on the mat " * 20]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


CASES = {
    "cls+normalize": dict(pooling_mode="cls", normalize=True),
    "mean": dict(pooling_mode="mean"),
    "max": dict(pooling_mode="max"),
    "mean+dense": dict(pooling_mode="mean", dense=torch.nn.Tanh()),
    "mean_sqrt_len": dict(pooling_mode="mean_sqrt_len_tokens"),
    "mean+max+dense-identity+normalize": dict(pooling_mode=("mean", "max"), dense=torch.nn.Identity(), normalize=True),
}


@pytest.fixture(scope="module")
def st_dirs(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("st")
    return {name: save_st(root / name.replace("+", "_"), tiny_bert, **kw) for name, kw in CASES.items()}


@pytest.fixture(scope="module")
def st_outputs(st_dirs):
    from sentence_transformers import SentenceTransformer

    return {name: SentenceTransformer(str(d), device="cpu").encode(TEXTS, batch_size=2) for name, d in st_dirs.items()}


FAST_ONNX = ("cls+normalize", "mean+dense")  # the other ONNX cases run with -m slow (an export each)
MATRIX = [pytest.param(name, backend, marks=[pytest.mark.slow] if backend == "onnx" and name not in FAST_ONNX else [])
          for name in CASES for backend in ("torch", "onnx")]


@pytest.mark.parametrize("name, backend", MATRIX)
def test_directory_pipeline_gives_encode_vectors(st_dirs, st_outputs, name, backend, tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path))
    emb = Embedder(st_dirs[name], backend=backend, dtype="fp32", device="cpu")
    ours, ref = emb.embed(TEXTS), st_outputs[name]
    assert ours.shape == ref.shape and emb.dim == ref.shape[1]
    assert _cos(ours, ref).min() >= 0.9999
    np.testing.assert_allclose(ours, ref, atol=2e-4)
    assert "sentence-transformers modules" in emb.source
    assert emb.normalize == CASES[name].get("normalize", False)


def test_the_packaged_model_is_a_sentence_transformers_directory(minilm_dir):
    from sentence_transformers import SentenceTransformer

    emb = Embedder(device="cpu")
    ours = emb.embed(TEXTS)
    ref = SentenceTransformer(str(minilm_dir), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    assert emb.source.startswith("pooling mean, Normalize (the sentence-transformers modules of all-MiniLM-L6-v2")


def test_explicit_pooling_and_normalize_override_the_directory(st_dirs, st_outputs):
    d = st_dirs["cls+normalize"]
    plain = Embedder(d, pooling="cls", device="cpu")  # the pooling given: no Normalize unless asked
    assert not plain.normalize and "is not used" in plain.source
    np.testing.assert_allclose(_cos(plain.embed(TEXTS), st_outputs["cls+normalize"]), 1.0, atol=1e-5)
    mean = Embedder(d, pooling="mean", normalize=True, device="cpu")
    assert mean.source.startswith("pooling mean, Normalize (given")
    raw = Embedder(d, normalize=False, device="cpu")  # the directory's pooling, its Normalize dropped
    assert not raw.normalize and "normalize=False given" in raw.source
    assert np.linalg.norm(raw.embed(["a longer sentence here"]), axis=1)[0] != pytest.approx(1.0)
    dense = Embedder(st_dirs["mean+dense"], pooling="mean", device="cpu")
    assert dense.dim == 32  # no Dense with an explicit pooling


def test_cli_embed_without_pooling_uses_the_directory(st_dirs, st_outputs, tmp_path, capsys):
    from bertkit.cli.app import main

    src = tmp_path / "t.txt"
    src.write_text("\n".join(t for t in TEXTS if "\n" not in t) + "\n")
    out = tmp_path / "v.npy"
    assert main(["embed", str(src), "-o", str(out), "--model", str(st_dirs["mean+dense"])]) == 0
    err = capsys.readouterr().err
    assert "pooling mean, Dense 32->16 Tanh (the sentence-transformers modules of" in err
    np.testing.assert_allclose(np.load(out), st_outputs["mean+dense"], atol=2e-4)


def _edit(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "mode, message",
    [("weightedmean", "pooling mode 'weightedmean' has no bertkit equivalent"), ("lasttoken", "pooling mode 'lasttoken' has no bertkit equivalent")],
)
def test_a_pooling_bertkit_lacks_is_refused_in_one_line(st_dirs, tmp_path, mode, message):
    d = shutil.copytree(st_dirs["mean"], tmp_path / "m")
    _edit(d / "1_Pooling" / "config.json", pooling_mode=mode)
    with pytest.raises(ModelLoadError, match=message) as info:
        Embedder(d, device="cpu")
    assert "\n" not in str(info.value) and "--pooling" in str(info.value)
    assert Embedder(d, pooling="mean", device="cpu").dim == 32  # an explicit pooling still loads it


def test_legacy_pooling_keys_are_read(st_dirs, st_outputs, tmp_path):
    d = shutil.copytree(st_dirs["max"], tmp_path / "legacy")
    (d / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": True}
    ))
    np.testing.assert_allclose(Embedder(d, device="cpu").embed(TEXTS), st_outputs["max"], atol=1e-5)


def test_pickled_dense_weights_are_refused_with_the_conversion(st_dirs, tmp_path):
    d = shutil.copytree(st_dirs["mean+dense"], tmp_path / "pickled")
    dense = next(p for p in d.iterdir() if p.name.endswith("_Dense"))
    (dense / "model.safetensors").rename(dense / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match=r"only in pytorch_model.bin \(pickle\); bertkit loads safetensors only. Convert once"):
        Embedder(d, device="cpu")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.__setitem__(1, {**m[1], "type": "sentence_transformers.models.LSTM"}), "which bertkit cannot run"),
        (lambda m: m.__setitem__(1, {**m[1], "path": "../elsewhere"}), "module path"),
        (lambda m: m.pop(1), "must be a Pooling"),
    ],
)
def test_modules_bertkit_cannot_run_are_refused(st_dirs, tmp_path, edit, message):
    d = shutil.copytree(st_dirs["mean"], tmp_path / "odd")
    modules = json.loads((d / "modules.json").read_text())
    edit(modules)
    (d / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelLoadError, match=message) as info:
        Embedder(d, device="cpu")
    assert "\n" not in str(info.value)


def test_unknown_activation_is_refused_without_importing_it(st_dirs, tmp_path):
    d = shutil.copytree(st_dirs["mean+dense"], tmp_path / "act")
    dense = next(p for p in d.iterdir() if p.name.endswith("_Dense"))
    _edit(dense / "config.json", activation_function="os.system")
    with pytest.raises(ModelLoadError, match="activation_function 'os.system' is not one bertkit runs"):
        Embedder(d, device="cpu")


def test_a_transformer_in_a_subdirectory_loads(st_dirs, st_outputs, tmp_path):
    """Older sentence-transformers versions saved the encoder under 0_Transformer/."""
    src = st_dirs["mean"]
    d = tmp_path / "old"
    shutil.copytree(src, d / "0_Transformer", ignore=shutil.ignore_patterns("1_Pooling", "modules.json", "config_sentence_transformers.json"))
    shutil.copytree(src / "1_Pooling", d / "1_Pooling")
    modules = json.loads((src / "modules.json").read_text())
    modules[0]["path"] = "0_Transformer"
    (d / "modules.json").write_text(json.dumps(modules))
    np.testing.assert_allclose(Embedder(d, device="cpu").embed(TEXTS), st_outputs["mean"], atol=1e-5)


def test_do_lower_case_lowers_for_a_cased_tokenizer(st_dirs, tmp_path):
    from sentence_transformers import SentenceTransformer

    d = shutil.copytree(st_dirs["mean"], tmp_path / "cased")
    tok = json.loads((d / "tokenizer.json").read_text())
    tok["normalizer"]["lowercase"] = False  # a cased tokenizer ...
    (d / "tokenizer.json").write_text(json.dumps(tok))
    _edit(d / "tokenizer_config.json", do_lower_case=False)
    _edit(d / "sentence_bert_config.json", do_lower_case=True)  # ... that the directory asks to lower-case
    emb = Embedder(d, device="cpu")
    assert emb.lowercase
    ref = SentenceTransformer(str(d), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(emb.embed(TEXTS), ref, atol=1e-5)
    assert not Embedder(st_dirs["mean"], device="cpu").lowercase  # the uncased tokenizer lowers already
