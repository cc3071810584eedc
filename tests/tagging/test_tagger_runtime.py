"""The tagger's runtime: ``.runtime``, ``auto`` as for every predictor, int8 refused, ONNX parity with torch."""

from __future__ import annotations

import pytest

from bertkit.engine.runtime import CpuFeatures, Probe
from bertkit.errors import UsageError
from bertkit.tagging import TagTrainOptions, load_tagger, train_tagger
from bertkit.tagging.tagger import resolve_tagger_runtime
from tiny_conll import sentences, write_conll

BF16_CPU = CpuFeatures("test cpu", frozenset({"avx512f", "avx512_bf16"}))
PLAIN_CPU = CpuFeatures("test cpu", frozenset({"avx2"}))


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("runtime-tagger")
    train = write_conll(root / "t.conll", sentences(12, seed=4))
    train_tagger(TagTrainOptions(train=str(train), dev=str(train), out=str(root / "m"), model=str(tiny_bert), device="cpu",
                                 max_length=32, checkpoint_every=0, epochs=2, lstm_hidden=8, no_cache=True))
    return root / "m"


@pytest.fixture()
def no_env(monkeypatch):
    """Drop the test-suite's BERTKIT_BACKEND/BERTKIT_DTYPE pins so ``auto`` really resolves."""
    monkeypatch.delenv("BERTKIT_BACKEND", raising=False)
    monkeypatch.delenv("BERTKIT_DTYPE", raising=False)


@pytest.mark.parametrize("features, probe, backend, want", [
    (BF16_CPU, Probe(1.0, 2.0, 1.0), "auto", ("torch", "bf16")),   # native bf16, agrees, faster
    (BF16_CPU, Probe(0.99, 2.0, 1.0), "auto", ("onnx", "fp32")),   # bf16 drifts
    (BF16_CPU, Probe(1.0, 1.0, 2.0), "torch", ("torch", "fp32")),  # bf16 slower, torch asked
    (PLAIN_CPU, None, "auto", ("onnx", "fp32")),                   # no native bf16
    (PLAIN_CPU, None, "torch", ("torch", "fp32")),
])
def test_auto_resolution(no_env, tmp_path, features, probe, backend, want):
    runtime = resolve_tagger_runtime(backend, features=features, cuda=False, probe=(lambda dev: probe) if probe else None,
                                     model="k", cache_dir=tmp_path)
    assert (runtime.backend, runtime.dtype, runtime.device) == (*want, "cpu")
    assert runtime.reason.startswith("auto")


def test_fleet_int8_means_fp32_for_the_tagger(monkeypatch):
    monkeypatch.setenv("BERTKIT_BACKEND", "onnx")
    monkeypatch.setenv("BERTKIT_DTYPE", "int8")
    r = resolve_tagger_runtime()
    assert (r.backend, r.dtype) == ("onnx", "fp32")


def test_gpu_auto_is_bf16_when_the_probe_passes(no_env, tmp_path):
    r = resolve_tagger_runtime(cuda=True, probe=lambda dev: Probe(1.0, 2.0, 1.0), cache_dir=tmp_path)
    assert (r.backend, r.dtype, r.device) == ("torch", "bf16", "cuda")


@pytest.mark.parametrize("kw, match", [
    ({"dtype": "int8"}, "no int8"),
    ({"backend": "onnx", "dtype": "int8"}, "no int8"),
    ({"backend": "onnx", "dtype": "bf16"}, "not available on backend 'onnx'"),
    ({"backend": "tensorrt"}, "backend"),
    ({"dtype": "fp8"}, "dtype"),
])
def test_refused(tagger_dir, kw, match):
    with pytest.raises(UsageError, match=match):
        load_tagger(tagger_dir, device="cpu", **kw)


def test_runtime_of_a_loaded_tagger(tagger_dir):
    tagger = load_tagger(tagger_dir, backend="torch", dtype="fp32", device="cpu")
    assert (tagger.runtime.backend, tagger.runtime.dtype, tagger.runtime.device, tagger.runtime.reason) == ("torch", "fp32", "cpu", "asked")
    assert tagger.model.embedding.runner.dtype == "fp32"


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_auto_load_runs_the_probe_once_and_agrees(no_env, tagger_dir):
    """Real ``auto`` on this machine: the encoder's dtype is the runtime's; the probe is cached."""
    tagger = load_tagger(tagger_dir, device="cpu")
    assert tagger.runtime.reason.startswith("auto")
    assert tagger.model.embedding.runner.dtype == tagger.runtime.torch_dtype
    assert (tagger.model.embedding.states_fn is not None) == (tagger.runtime.backend == "onnx")
    fp32 = load_tagger(tagger_dir, dtype="fp32", device="cpu")
    words = [w for w, _ in sentences(1, seed=9)[0]]
    assert len(tagger.tag_words([words])[0][0]) == len(fp32.tag_words([words])[0][0]) == len(words)
    again = load_tagger(tagger_dir, device="cpu")  # the probe's result comes from the disk cache
    assert again.runtime == tagger.runtime


def test_explicit_bf16_autocasts_the_encoder(tagger_dir):
    from bertkit.engine.runtime import cpu_features

    if not cpu_features().native_bf16:
        pytest.skip("no native bf16 on this CPU")
    tagger = load_tagger(tagger_dir, dtype="bf16", device="cpu")
    assert (tagger.runtime.backend, tagger.runtime.dtype) == ("torch", "bf16")
    assert tagger.model.embedding.runner.dtype == "bf16"
    ents = tagger.predict(["i met bob in rome ."])
    assert isinstance(ents[0], list)


def test_onnx_matches_torch(tagger_dir, tmp_path, monkeypatch):
    """The encoder pass on ONNX Runtime (exported once, cached): same tags, same entities, close scores."""
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))
    torch_tagger = load_tagger(tagger_dir, backend="torch", dtype="fp32", device="cpu")
    onnx_tagger = load_tagger(tagger_dir, backend="onnx", device="cpu")
    assert (onnx_tagger.runtime.backend, onnx_tagger.runtime.dtype) == ("onnx", "fp32")
    words = [[w for w, _ in s] for s in sentences(6, seed=11)] + [["i"], ["rome"] * 40]  # 40 words > 32 tokens: windows
    want_tags, want_scores = torch_tagger.tag_words(words)
    got_tags, got_scores = onnx_tagger.tag_words(words)
    assert got_tags == want_tags
    for a, b in zip(got_scores, want_scores):
        assert a == pytest.approx(b, abs=1e-4)
    texts = ["i met carol smith in new york .", "Bob went to Rome!"]
    assert [[(e.type, e.start, e.end) for e in s] for s in onnx_tagger.predict(texts)] == \
        [[(e.type, e.start, e.end) for e in s] for s in torch_tagger.predict(texts)]
    exports = list((tmp_path / "cache" / "onnx").iterdir())
    assert len(exports) == 1
    load_tagger(tagger_dir, backend="onnx", device="cpu")  # the second load reuses the export
    assert list((tmp_path / "cache" / "onnx").iterdir()) == exports
