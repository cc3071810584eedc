"""The warm Embedder gives the full ONNX path's vectors: the same tokens, batches, graph and
normalisation, for every pooling, layer choice and normalisation (bertkit.embeddings.warm)."""

from __future__ import annotations

import numpy as np
import pytest

from bertkit.embeddings.embedder import Embedder
from bertkit.embeddings.warm import warm_embedder

LONG = " ".join(f"word{i} and more" for i in range(400))  # over any max length: truncated (and cut by characters first)
TEXTS = ["A gorgeous, witty film.", "hello", "", "Naïve café owners in Zürich serve crème brûlée.", LONG,
         "The plot is a mess and the acting is worse.", "Who wrote War and Peace?", "[CLS] in the text [SEP]"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the module: each option set is exported once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BERTKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def _both(model, **options):
    """(the full ONNX Embedder, its warm counterpart) for the same options."""
    full = Embedder(model, backend="onnx", **options)
    expected = full.embed(TEXTS)
    warm = warm_embedder(model, backend="onnx", **options)
    assert warm is not None, f"no warm start recorded for {options}"
    return full, expected, warm


def _same(full, expected, warm, batch_size=None):
    got = warm.embed(TEXTS)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert (warm.last_stats.texts, warm.last_stats.tokens, warm.last_stats.truncated) == (
        full.last_stats.texts, full.last_stats.tokens, full.last_stats.truncated)
    assert (warm.dim, warm.normalize, warm.source, warm.max_length) == (full.dim, full.normalize, full.source, full.max_length)
    assert warm.runtime == full.runtime


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_tiny_bert_default(tiny_bert, cache):
    _same(*_both(tiny_bert))


@pytest.mark.slow  # one ONNX export per option set (a second or more each)
@pytest.mark.parametrize("options", [
    {"pooling": "max", "normalize": True},
    {"pooling": "cls+mean", "layers": "-2"},
    {"pooling": "weighted_layer"},
    {"max_length": 12},
])
def test_tiny_bert_every_option(tiny_bert, cache, options):
    _same(*_both(tiny_bert, **options))


def test_stream_chunks_and_batches_match(tiny_bert, cache):
    full, expected, _ = _both(tiny_bert)
    warm = warm_embedder(tiny_bert, backend="onnx", batch_size=3, max_batch_tokens=40)
    rows = list(warm.embed_stream(iter(TEXTS), chunk_size=3))
    assert [t for chunk, _ in rows for t in chunk] == TEXTS
    np.testing.assert_allclose(np.concatenate([v for _, v in rows]), expected, rtol=0, atol=1e-5)
    assert warm.last_stats.texts == len(TEXTS) and warm.last_stats.truncated == full.last_stats.truncated


def test_a_bad_text_is_refused_naming_its_row(tiny_bert, cache):
    from bertkit.errors import InputError

    full, _, warm = _both(tiny_bert)
    texts = ["a", "b", "c\ud800"]
    with pytest.raises(InputError) as expected:
        list(full.embed_stream(texts, chunk_size=2))
    with pytest.raises(InputError, match="text 2 ") as got:
        list(warm.embed_stream(texts, chunk_size=2))
    assert str(got.value) == str(expected.value)


@pytest.mark.slow  # exports the packaged MiniLM for each option set (tens of seconds)
@pytest.mark.parametrize("options", [
    {},  # the directory's sentence-transformers pipeline: mean + Normalize
    {"pooling": "cls", "normalize": False},
    {"pooling": "mean", "layers": "-4:", "normalize": True},
    {"normalize": False},
])
def test_packaged_minilm(cache, options):
    _same(*_both(None, **options))
