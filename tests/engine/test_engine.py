"""Backends (torch, ONNX fp32/int8), the export cache, the quality gate, streaming."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bertkit import Embedder
from bertkit.engine import agreement, check_backend
from bertkit.embeddings import engine as emb_engine
from bertkit.engine.onnx_export import cache_root, content_hash, read_export_info
from bertkit.errors import ModelLoadError, UsageError


def graph_of(emb):
    return emb_engine.embedding_graph(emb.encoder, emb.layers, emb.pooling)


def export_embedding(emb):
    return emb_engine.export_embedding(emb.encoder, emb.layers, emb.pooling, emb.dtype, from_files=emb._owns_encoder)


def compare_to_fp32(emb, texts):
    return emb_engine.compare_to_fp32(emb.encoder, emb.layers, emb.pooling, emb.backend, texts)

TEXTS = ["a short one", "", "a somewhat longer text with more words in it", "x " * 40, "Naïve café, déjà vu?"]


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path_factory.getbasetemp() / "bertkit-cache"))


@pytest.mark.parametrize("pooling, layers", [("mean", "-1"), ("max+cls", "-2:"), ("pooler", "-1"), ("weighted_layer", "-1")])
def test_onnx_fp32_matches_torch(tiny_encoder, pooling, layers):
    before = tiny_encoder.model.config._attn_implementation
    torch_vecs = Embedder(pooling=pooling, layers=layers, encoder=tiny_encoder).embed(TEXTS)
    onnx_vecs = Embedder(pooling=pooling, layers=layers, encoder=tiny_encoder, backend="onnx").embed(TEXTS)
    np.testing.assert_allclose(onnx_vecs, torch_vecs, atol=2e-4)
    assert tiny_encoder.model.config._attn_implementation == before  # the export (eager) restores it


def test_export_is_cached_and_keyed_by_content(tiny_encoder):
    emb = Embedder(pooling="attention", encoder=tiny_encoder, backend="onnx")
    graph = graph_of(emb)
    first, info = export_embedding(emb)
    assert info.kind == "embedding" and info.pooling == "attention" and info.outputs == ["vector"]
    stamp = (first / info.model_file).stat().st_mtime_ns
    again, _ = export_embedding(emb)
    assert again == first and (again / info.model_file).stat().st_mtime_ns == stamp
    names = (graph.input_names, ["vector"])
    key = content_hash(graph, *names, "fp32")
    with torch.no_grad():
        emb.pooling.scorer[-1].weight.add_(1.0)  # trained pooling weights -> a new export
    assert content_hash(graph, *names, "fp32") != key
    assert content_hash(graph, *names, "int8") != content_hash(graph, *names, "fp32")
    assert first.parent == cache_root()
    with torch.no_grad():
        emb.pooling.scorer[-1].weight.sub_(1.0)


def test_export_config_rejects_unknown_keys(tiny_encoder, tmp_path):
    import hashlib
    import shutil

    directory, _ = export_embedding(Embedder(encoder=tiny_encoder, backend="onnx"))
    copy = tmp_path / "export"
    shutil.copytree(directory, copy)
    data = json.loads((copy / "bertkit.json").read_text())
    assert data["task"] == "onnx-export"
    data["colour"] = "blue"
    (copy / "bertkit.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="bertkit.json was altered after saving"):
        read_export_info(copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["bertkit.json"] = hashlib.sha256((copy / "bertkit.json").read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="unknown key 'colour'"):
        read_export_info(copy)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_a_damaged_cached_export_is_rebuilt_with_a_warning(tiny_bert, tmp_path):
    import shutil

    from bertkit.errors import BertkitWarning

    copy = tmp_path / "model"
    shutil.copytree(tiny_bert, copy)
    want = Embedder(copy, backend="onnx", device="cpu").embed(TEXTS)
    emb = Embedder(copy, backend="onnx", device="cpu")
    directory, info = export_embedding(emb)
    onnx_file = directory / info.model_file
    onnx_file.write_bytes(onnx_file.read_bytes()[: onnx_file.stat().st_size // 2])  # truncated
    with pytest.warns(BertkitWarning, match="cached ONNX export is damaged .*was altered after saving.*exporting it again"):
        got = Embedder(copy, backend="onnx", device="cpu").embed(TEXTS)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert read_export_info(directory).model_file == info.model_file  # rebuilt in place


@pytest.mark.slow  # a real MiniLM export / several CLI processes: over 5 s on 2 cores
def test_int8_is_vetted_against_fp32(minilm_encoder):
    emb = Embedder(pooling="mean", encoder=minilm_encoder, backend="onnx", dtype="int8")
    vecs = emb.embed(TEXTS)
    ref = Embedder(pooling="mean", encoder=minilm_encoder).embed(TEXTS)
    assert agreement(ref, vecs).mean_cosine > 0.98
    directory, info = export_embedding(emb)
    recorded = json.loads((directory / "bertkit.json").read_text())
    assert recorded["calibration_mean_cosine"] >= 0.99
    assert compare_to_fp32(emb, TEXTS).n == len(TEXTS)


def test_int8_refused_when_it_drifts(tiny_encoder, monkeypatch):
    import bertkit.embeddings.engine as build

    monkeypatch.setattr(build, "INT8_MIN_MEAN_COSINE", 1.01)  # no model can pass this
    with pytest.raises(UsageError, match=r"int8 refused for .* drift .*mean cosine"):
        Embedder(pooling="mean", encoder=tiny_encoder, backend="onnx", dtype="int8").embed(["x"])


def test_backend_dtype_validation():
    check_backend("onnx", "int8")
    with pytest.raises(UsageError, match="unknown backend 'tvm'; valid options: torch, onnx"):
        check_backend("tvm", "fp32")
    with pytest.raises(UsageError, match="int8 runs on backend 'onnx'"):
        check_backend("torch", "int8")
    with pytest.raises(UsageError, match="'bf16' is not available on backend 'onnx'"):
        check_backend("onnx", "bf16")


def test_stream_and_token_budget_give_the_same_vectors(tiny_encoder):
    whole = Embedder(pooling="mean", encoder=tiny_encoder).embed(TEXTS * 3)
    streamer = Embedder(pooling="mean", encoder=tiny_encoder, max_batch_tokens=24)
    chunks = list(streamer.embed_stream(iter(TEXTS * 3), chunk_size=4))
    assert [len(t) for t, _ in chunks] == [4, 4, 4, 3]
    np.testing.assert_allclose(np.concatenate([v for _, v in chunks]), whole, atol=1e-5)
    assert streamer.last_stats.texts == 15


def test_agreement_handles_zero_rows():
    a = np.array([[1.0, 0.0], [0.0, 0.0]])
    result = agreement(a, a.copy())
    assert result.mean_cosine == pytest.approx(1.0) and result.n == 2


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_onnx_releases_torch_weights_and_reloads_them_for_check(tiny_bert):
    emb = Embedder(tiny_bert, pooling="mean", backend="onnx", device="cpu")
    vecs = emb.embed(TEXTS)
    assert not emb.encoder.weights_loaded  # released behind the ONNX session
    result = compare_to_fp32(emb, TEXTS)  # needs torch again: reloaded from the directory
    assert result.mean_cosine > 0.9999
    torch_vecs = Embedder(tiny_bert, pooling="mean", device="cpu").embed(TEXTS)
    np.testing.assert_allclose(vecs, torch_vecs, atol=2e-4)


def test_a_shared_encoder_keeps_its_weights(tiny_encoder):
    Embedder(pooling="mean", encoder=tiny_encoder, backend="onnx").embed(TEXTS)
    assert tiny_encoder.weights_loaded


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_a_cached_onnx_export_needs_no_torch_model(tiny_bert):
    """Keyed by the model's files: the second embedder finds the export without loading weights."""
    first = Embedder(tiny_bert, pooling="max", backend="onnx", device="cpu")
    want = first.embed(TEXTS)
    second = Embedder(tiny_bert, pooling="max", backend="onnx", device="cpu")
    assert not second.encoder.weights_loaded
    np.testing.assert_allclose(second.embed(TEXTS), want, atol=1e-6)
    assert not second.encoder.weights_loaded  # never loaded: the export came from the cache
    other = Embedder(tiny_bert, pooling="max", layers="-2", backend="onnx", device="cpu")
    assert export_embedding(other)[0] != export_embedding(second)[0]  # another graph, another entry


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_changed_weights_file_means_a_new_export(tiny_bert, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    copy = tmp_path / "model"
    shutil.copytree(tiny_bert, copy)
    before = export_embedding(Embedder(copy, backend="onnx", device="cpu"))[0]
    weights = load_file(str(copy / "model.safetensors"))
    name = next(k for k in weights if k.endswith("word_embeddings.weight"))
    weights[name] = weights[name] + 1.0
    save_file(weights, str(copy / "model.safetensors"), metadata={"format": "pt"})
    after = export_embedding(Embedder(copy, backend="onnx", device="cpu"))[0]
    assert before != after


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_untrained_attention_pooling_reuses_its_export(tiny_bert):
    first = Embedder(tiny_bert, pooling="attention", backend="onnx", device="cpu")
    second = Embedder(tiny_bert, pooling="attention", backend="onnx", device="cpu")
    assert export_embedding(first)[0] == export_embedding(second)[0]
