"""The Embedder on several model families, long texts, word vectors and errors."""

from __future__ import annotations

import numpy as np
import pytest

import bertkit
from bertkit.embeddings import Embedder, pooling_names
from bertkit.embeddings.pooling import build_pooling
from bertkit.embeddings.windows import combine_windows, pool_pieces_to_words
from bertkit.errors import UsageError

LONG = " ".join(f"word{i % 17} and more" for i in range(60))


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("family", ["tiny_bert", "tiny_distilbert", "tiny_electra"])
def test_every_strategy_runs_on_each_family(family, request):
    path = request.getfixturevalue(family)
    for name in pooling_names():
        if name == "pooler" and family != "tiny_bert":
            with pytest.raises(UsageError, match="no trained pooler"):
                Embedder(path, pooling=name, device="cpu")
            continue
        v = Embedder(path, pooling=name, device="cpu").embed(["one text", "and another, longer text"])
        assert v.shape[0] == 2 and np.isfinite(v).all()


def test_pooler_refused_when_checkpoint_has_no_pooler(tiny_bert_no_pooler):
    with pytest.raises(UsageError, match="pooler"):
        Embedder(tiny_bert_no_pooler, pooling="pooler", device="cpu")


def test_combination_concatenates(tiny_encoder):
    both = Embedder(pooling="mean+max", encoder=tiny_encoder).embed(["a b c"])
    mean = Embedder(pooling="mean", encoder=tiny_encoder).embed(["a b c"])
    mx = Embedder(pooling="max", encoder=tiny_encoder).embed(["a b c"])
    np.testing.assert_allclose(both, np.concatenate([mean, mx], axis=1), atol=1e-6)


def test_untrained_learned_poolings_start_neutral(tiny_encoder):
    mean = Embedder(pooling="mean", encoder=tiny_encoder).embed(["some words here"])
    attention = Embedder(pooling="attention", encoder=tiny_encoder).embed(["some words here"])
    np.testing.assert_allclose(attention, mean, atol=1e-5)  # zero scorer = uniform weights
    start = tiny_encoder.num_layers // 2
    avg = Embedder(pooling="mean", layers=f"{start}:", encoder=tiny_encoder).embed(["some words here"])
    weighted = Embedder(pooling="weighted_layer", encoder=tiny_encoder).embed(["some words here"])
    np.testing.assert_allclose(weighted, avg, atol=1e-5)


def test_truncation_is_counted_and_window_mode_keeps_everything(tiny_bert):
    cut = Embedder(tiny_bert, max_length=16, device="cpu")
    cut.embed([LONG, "short"])
    assert cut.last_stats.truncated == 1
    win = Embedder(tiny_bert, max_length=16, long="window", device="cpu", pooling="max")
    v = win.embed([LONG, "short"])
    assert win.last_stats.truncated == 1 and v.shape == (2, 32)
    windows = win.encoder.tokenize([LONG], windows=True)
    assert len(windows.features) > 1
    # Short texts are unaffected by window mode.
    np.testing.assert_allclose(v[1], Embedder(tiny_bert, max_length=16, device="cpu", pooling="max").embed(["short"])[0], atol=1e-6)


def test_combine_windows_rules():
    vecs = np.array([[1.0, 5.0, 0.0], [3.0, 2.0, 4.0]], dtype=np.float32)
    out = combine_windows(vecs[:, :2], np.array([1, 3]), [(1, "mean"), (1, "max")])
    np.testing.assert_allclose(out, [2.5, 5.0])
    out = combine_windows(vecs, np.array([1, 1]), [(3, "min")])
    np.testing.assert_allclose(out, [1.0, 2.0, 0.0])
    assert build_pooling("mean+max", 4, 2).window_rules() == [(4, "mean"), (4, "max")]


def test_pool_pieces_to_words_averages_pieces_and_overlaps():
    text = "unhappy cat"
    states = [np.array([[0, 0], [1, 1], [3, 3], [5, 5], [0, 0]], dtype=np.float32)]
    word_ids = [[None, 0, 0, 1, None]]
    offsets = [[(0, 0), (0, 2), (2, 7), (8, 11), (0, 0)]]
    words, vecs = pool_pieces_to_words(states, word_ids, offsets, text)
    assert words == ["unhappy", "cat"]
    np.testing.assert_allclose(vecs, [[2, 2], [5, 5]])


def test_word_vectors_follow_words(tiny_encoder):
    rows = Embedder(encoder=tiny_encoder).embed_words(["Unbelievably good, ok?", ""])
    assert rows[0].words == ["Unbelievably", "good", ",", "ok", "?"]
    assert rows[0].vectors.shape == (5, 32)
    assert rows[1].words == [] and rows[1].vectors.shape == (0, 32)


def test_embed_function_and_errors(tiny_bert):
    v = bertkit.embed(["x", "y"], tiny_bert, pooling="min", device="cpu")
    assert v.shape == (2, 32) and v.dtype == np.float32
    with pytest.raises(ValueError, match="unknown pooling .avg.; valid options: cls, mean, max, min, mean_sqrt_len, pooler, weighted_layer, attention"):
        bertkit.embed(["x"], tiny_bert, pooling="avg")
    with pytest.raises(ValueError, match="unknown long-text mode"):
        bertkit.embed(["x"], tiny_bert, long="chunk")
    with pytest.raises(ValueError, match="dtype"):
        bertkit.embed(["x"], tiny_bert, dtype="int4")
    with pytest.raises(ValueError, match="repeats"):
        bertkit.embed(["x"], tiny_bert, pooling="mean+mean")
