"""One Embedder, many threads: exactly the serial results, nothing shared is re-configured."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bertkit import Embedder, Runtime
from bertkit.encoder import Encoder

TEXTS = [
    "a gorgeous, witty film",
    "the plot is a mess " * 30,  # longer than the tiny model's 64 positions: cut or windowed
    "",
    "Naïve café owners in Zürich",
    "who wrote war and peace?",
    "one two three four five six seven eight nine ten",
]


def _jobs():
    return [TEXTS[i:] + TEXTS[:i] for i in range(len(TEXTS))] * 4  # 24 calls, each its own order


@pytest.fixture(scope="module")
def embedders(tiny_bert, one_thread):
    encoder = Encoder(tiny_bert, device="cpu")  # shared: the fast path and the windowed path use one tokenizer
    return Embedder(encoder=encoder, pooling="mean+max"), Embedder(encoder=encoder, long="window", stride=8, layers="-2:")


def test_eight_threads_give_the_serial_results(embedders):
    truncating, windowed = embedders
    calls = [(e, job) for job in _jobs() for e in (truncating, windowed)]
    serial = [e.embed(job) for e, job in calls]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda c: c[0].embed(c[1]), calls))
    for want, got in zip(serial, parallel):
        np.testing.assert_array_equal(got, want)


def test_word_vectors_and_token_counts_from_threads(embedders):
    truncating, _ = embedders
    serial = [truncating.embed_words(job) for job in _jobs()]
    counts = [truncating.count_tokens(job) for job in _jobs()]
    with ThreadPoolExecutor(8) as pool:
        words = list(pool.map(truncating.embed_words, _jobs()))
        counted = list(pool.map(truncating.count_tokens, _jobs()))
    assert counted == counts
    for want, got in zip(serial, words):
        assert [w.words for w in got] == [w.words for w in want]
        for a, b in zip(want, got):
            np.testing.assert_array_equal(a.vectors, b.vectors)


def test_count_tokens_counts_before_truncation(embedders):
    truncating, _ = embedders
    long_count = truncating.count_tokens([TEXTS[1]])[0]
    assert long_count > truncating.max_length  # 64 for the tiny model
    assert truncating.count_tokens(["", "hello"]) == [2, 3]


def test_the_shared_tokenizer_is_never_reconfigured(embedders):
    truncating, _ = embedders
    rust = truncating.encoder.tokenizer._tokenizer
    before = (rust.truncation, rust.padding)
    truncating.embed(TEXTS)
    assert (rust.truncation, rust.padding) == before


def test_runtime_says_what_runs(embedders, tiny_bert):
    truncating, _ = embedders
    assert truncating.runtime == Runtime("torch", "fp32", "cpu", "the encoder passed in")
    emb = Embedder.load(tiny_bert, backend="torch", dtype="fp32")
    assert (emb.runtime.backend, emb.runtime.dtype, emb.runtime.reason) == ("torch", "fp32", "asked")
    assert emb.dim == 32 and emb.max_length == 64


def test_the_int8_check_policy_lives_in_the_library(embedders):
    from bertkit.engine.quality import Agreement
    from bertkit.errors import ParameterError

    truncating, _ = embedders
    low = Agreement(mean_cosine=0.98, worst_cosine=0.95, n=3)
    assert truncating.gate(low) is low  # fp32: reported, never refused
    import copy

    as_int8 = copy.copy(truncating)
    as_int8.runtime = Runtime("onnx", "int8", "cpu", "asked")
    with pytest.raises(ParameterError, match="int8 refused: mean cosine 0.9800 to fp32 on this input is below 0.99") as err:
        as_int8.gate(low)
    assert err.value.param == "dtype"


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_the_lazy_onnx_backend_is_built_once_under_threads(tiny_bert, tmp_path, monkeypatch):
    import bertkit.embeddings.embedder as embedder_module

    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))
    serial = Embedder(tiny_bert, backend="torch", dtype="fp32").embed(TEXTS)
    built = []
    real = embedder_module.build_backend

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(embedder_module, "build_backend", counting)
    emb = Embedder(tiny_bert, backend="onnx", dtype="fp32")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(emb.embed, [TEXTS] * 8))
    assert len(built) == 1
    for got in results:
        np.testing.assert_allclose(got, serial, atol=2e-4)
        np.testing.assert_array_equal(got, results[0])
