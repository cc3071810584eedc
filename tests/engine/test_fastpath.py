"""The warm start (bertkit.engine.fastpath): an entry is used only while every part of it verifies.

The full ONNX path records the entry; anything missing, changed or tampered with makes
``find_warm_start`` answer None, and the caller runs the full path again.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from bertkit.embeddings.embedder import Embedder
from bertkit.embeddings.warm import warm_embedder
from bertkit.engine import fastpath, runtime
from bertkit.engine.runtime import CpuFeatures, Probe

pytestmark = pytest.mark.slow  # its module fixture builds an ONNX export (~7 s): the default suite stays under 3 minutes

TEXTS = ["a short line", "a rather longer line of text for the tiny model", "x"]
NO_BF16 = CpuFeatures("test CPU", frozenset({"avx2"}))
NATIVE_BF16 = CpuFeatures("test CPU", frozenset({"avx2", "avx512_bf16"}))


@pytest.fixture(scope="module")
def exported(tiny_bert, tmp_path_factory):
    """A cache holding the tiny BERT's ONNX export, made once (each test copies it)."""
    root = tmp_path_factory.mktemp("exported")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BERTKIT_CACHE", str(root))
        Embedder(tiny_bert, backend="onnx").embed(["warm up"])
    shutil.rmtree(root / "warm")
    return root


@pytest.fixture
def cache(exported, tmp_path, monkeypatch):
    """This test's own cache: the export is there (keyed by the model's content), no warm entry yet."""
    shutil.copytree(exported, tmp_path / "cache")
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def model(tiny_bert, tmp_path):
    """A private copy of the tiny BERT: the tests change its files."""
    return shutil.copytree(tiny_bert, tmp_path / "model")


@pytest.fixture
def recorded(model, cache):
    """(model, the full ONNX path's vectors) after one full run has recorded its warm entry."""
    vectors = Embedder(model, backend="onnx").embed(TEXTS)
    return model, vectors


def test_cold_cache_has_no_warm_start(model, cache):
    assert warm_embedder(model, backend="onnx") is None


def test_full_onnx_path_records_an_entry_the_warm_start_runs(recorded, cache):
    model, vectors = recorded
    assert len(list((cache / "warm").glob("*.json"))) == 1
    warm = warm_embedder(model, backend="onnx")
    assert warm is not None
    assert warm.runtime == Embedder(model, backend="onnx").runtime
    np.testing.assert_array_equal(warm.embed(TEXTS), vectors)


def test_torch_runs_record_nothing(model, cache):
    Embedder(model, backend="torch").embed(TEXTS)
    assert not (cache / "warm").exists()


def test_another_request_is_another_entry(recorded):
    model, _ = recorded
    assert warm_embedder(model, backend="onnx", pooling="cls") is None
    assert warm_embedder(model, backend="onnx", max_length=16) is None
    assert warm_embedder(model, backend="onnx", dtype="int8") is None
    assert warm_embedder(model, backend="onnx", long="window") is None


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


def _tamper_entry(cache, model):
    entry = next((cache / "warm").glob("*.json"))
    data = json.loads(entry.read_text())
    data["entry"]["max_length"] = 7  # the checksum no longer matches
    entry.write_text(json.dumps(data))


def _tamper_export(cache, model):
    _flip_last_byte(next((cache / "onnx").glob("*/model.onnx")))


def _remove_export(cache, model):
    shutil.rmtree(next((cache / "onnx").iterdir()))


def _edit_config(cache, model):
    config = json.loads((model / "config.json").read_text())
    config["layer_norm_eps"] = 1e-5
    (model / "config.json").write_text(json.dumps(config))


def _edit_weights_keeping_mtime(cache, model):
    weights = model / "model.safetensors"
    stat = weights.stat()
    _flip_last_byte(weights)  # same size; the mtime put back, so only the ctime tells
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _add_file(cache, model):
    (model / "added_tokens.json").write_text("{}")


@pytest.mark.parametrize("tamper", [_tamper_entry, _tamper_export, _remove_export, _edit_config, _edit_weights_keeping_mtime, _add_file])
def test_anything_changed_falls_back_to_the_full_path(recorded, cache, tamper, monkeypatch):
    model, _ = recorded
    monkeypatch.setattr(fastpath, "REHASH_BYTES", 0)  # weights are known by identity (size, mtime, ctime, inode) alone
    tamper(cache, model)
    assert warm_embedder(model, backend="onnx") is None


def test_a_read_only_cache_only_costs_the_warm_start(model, cache, monkeypatch):
    monkeypatch.setattr(fastpath, "warm_dir", lambda: cache / "file" / "warm")
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "file").write_text("not a directory")
    np.testing.assert_allclose(Embedder(model, backend="onnx").embed(TEXTS), Embedder(model).embed(TEXTS), atol=1e-5)
    assert warm_embedder(model, backend="onnx") is None


# -- the runtime, resolved without torch ---------------------------------------------------


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A CPU-only machine without native bf16 and no fleet-wide backend (the suite pins torch)."""
    monkeypatch.delenv("BERTKIT_BACKEND", raising=False)
    monkeypatch.delenv("BERTKIT_DTYPE", raising=False)
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime, "cpu_features", lambda: NO_BF16)
    monkeypatch.setattr(fastpath, "_no_gpu", lambda: True)
    return monkeypatch


def test_warm_runtime_is_the_full_resolution(machine, tiny_bert):
    got = fastpath.warm_runtime("auto", "auto", "auto", tiny_bert)
    assert got == runtime.resolve_runtime(features=NO_BF16, cuda=False)
    assert got.backend == "onnx" and got.dtype == "fp32"
    assert fastpath.warm_runtime("onnx", "int8", "cpu", tiny_bert).dtype == "int8"
    assert fastpath.warm_runtime("torch", "auto", "auto", tiny_bert).backend == "torch"  # the caller then takes the full path


def test_warm_runtime_needs_torch_where_auto_could_pick_a_gpu(machine, tiny_bert):
    machine.setattr(fastpath, "_no_gpu", lambda: False)
    assert fastpath.warm_runtime("auto", "auto", "auto", tiny_bert) is None
    assert fastpath.warm_runtime("onnx", "auto", "auto", tiny_bert).backend == "onnx"  # ONNX runs on the CPU anyway
    assert fastpath.warm_runtime("auto", "auto", "cuda", tiny_bert) is None


def test_warm_runtime_reads_a_cached_probe_and_never_probes(machine, tiny_bert):
    machine.setattr(runtime, "cpu_features", lambda: NATIVE_BF16)
    assert fastpath.warm_runtime("auto", "auto", "auto", tiny_bert) is None  # not probed yet: the full path probes
    drifts = Probe(mean_cosine=0.9, fp32_seconds=1.0, bf16_seconds=0.5)
    full = runtime.resolve_runtime(model=runtime.model_key(tiny_bert), probe=lambda device: drifts, cuda=False)
    assert full.backend == "onnx" and "drifts" in full.reason
    assert fastpath.warm_runtime("auto", "auto", "auto", tiny_bert) == runtime.resolve_runtime(
        model=runtime.model_key(tiny_bert), probe=lambda device: pytest.fail("probed again"), cuda=False
    )
