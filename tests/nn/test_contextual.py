"""ContextualEmbedding: shapes, parity with Embedder.embed_words, windows, the cache, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertkit.embeddings.embedder import Embedder
from bertkit.errors import UsageError
from bertkit.nn import ContextualEmbedding

TEXTS = ["New York is a big city, isn't it?", "Tokenization splits unbelievably long words."]


@pytest.fixture(autouse=True)
def _one(one_thread, tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("layers", ["-1", "-2:"])
def test_mean_subword_equals_embedder_word_vectors(tiny_encoder, layers):
    emb = ContextualEmbedding(encoder=tiny_encoder, layers=layers, subword="mean", cache=False)
    vectors, mask = emb(TEXTS)
    want = Embedder(encoder=tiny_encoder, layers=layers).embed_words(TEXTS)
    for i, wv in enumerate(want):
        assert emb.split(TEXTS).words[i] == wv.words
        assert int(mask[i].sum()) == len(wv.words)
        np.testing.assert_allclose(vectors[i, : len(wv.words)].numpy(), wv.vectors, atol=1e-5)


def test_shapes_dims_and_word_lists(tiny_encoder):
    words = [["Hello", "world"], ["unbelievably", "long", "sentence", "here"], []]
    for combine, subword, dim in [("mean", "first", 32), ("concat", "first_last", 3 * 64), ("weighted", "last", 32), ("sum", "mean", 32)]:
        emb = ContextualEmbedding(encoder=tiny_encoder, layers="-3:", layer_combine=combine, subword=subword, cache=False)
        vectors, mask = emb(words)
        assert emb.dim == dim and vectors.shape == (3, 4, dim)
        assert mask.tolist() == [[True, True, False, False], [True] * 4, [False] * 4]
        assert torch.all(vectors[~mask] == 0)


def test_first_last_pieces(tiny_encoder):
    first = ContextualEmbedding(encoder=tiny_encoder, subword="first", cache=False)
    last = ContextualEmbedding(encoder=tiny_encoder, subword="last", cache=False)
    both = ContextualEmbedding(encoder=tiny_encoder, subword="first_last", cache=False)
    words = [["unbelievably", "a"]]  # several pieces, then one piece
    f, _ = first(words)
    la, _ = last(words)
    fl, _ = both(words)
    assert not torch.allclose(f[0, 0], la[0, 0]) and torch.allclose(f[0, 1], la[0, 1])
    assert torch.allclose(fl[0, :, :32], f[0]) and torch.allclose(fl[0, :, 32:], la[0])


def test_long_sentences_use_windows_and_keep_every_word(tiny_bert):
    from bertkit.encoder import Encoder

    enc = Encoder(tiny_bert, device="cpu", max_length=12)
    words = [[f"word{i}" for i in range(40)]]
    emb = ContextualEmbedding(encoder=enc, cache=False, stride=3)
    vectors, mask = emb(words)
    assert vectors.shape[1] == 40 and mask.all()
    assert torch.all(vectors[0].abs().sum(dim=1) > 0)  # no word was dropped
    cut = ContextualEmbedding(encoder=enc, cache=False, long="truncate")
    v2, _ = cut(words)
    assert torch.all(v2[0, 20:] == 0)  # truncation leaves later words empty
    with pytest.raises(UsageError, match="valid options: window, truncate"):
        ContextualEmbedding(encoder=enc, long="drop")


def test_second_pass_hits_the_cache_without_the_encoder(tiny_encoder, tmp_path, monkeypatch):
    emb = ContextualEmbedding(encoder=tiny_encoder, layers="-2:", layer_combine="weighted", cache_dir=tmp_path / "c")
    first, _ = emb(TEXTS)
    assert emb.cache.misses == 2 and list((tmp_path / "c").rglob("*.safetensors"))
    calls = []
    monkeypatch.setattr(tiny_encoder, "forward", lambda *a, **k: calls.append(1))
    again = ContextualEmbedding(encoder=tiny_encoder, layers="-2:", layer_combine="weighted", cache_dir=tmp_path / "c")
    second, _ = again(TEXTS)
    assert calls == [] and again.cache.hits == 2
    assert torch.allclose(first, second)
    # the weighted mix still learns on top of the cached per-layer states
    second.sum().backward()
    assert again.mix.weights.grad is not None and again.mix.scale.grad is not None
    # another layer choice reuses the entry: only the missing layer is computed, then added
    monkeypatch.undo()
    wider = ContextualEmbedding(encoder=tiny_encoder, layers="-3:", layer_combine="concat", cache_dir=tmp_path / "c")
    v3, _ = wider(TEXTS)
    assert wider.cache.misses == 2
    assert torch.allclose(v3[..., 32:], ContextualEmbedding(encoder=tiny_encoder, layers="-2:", layer_combine="concat", cache=False)(TEXTS)[0], atol=2e-2)
    calls.clear()
    monkeypatch.setattr(tiny_encoder, "forward", lambda *a, **k: calls.append(1))
    last = ContextualEmbedding(encoder=tiny_encoder, layers="-1", cache_dir=tmp_path / "c")
    last(TEXTS)
    assert calls == [] and last.cache.hits == 2
    other = ContextualEmbedding(encoder=tiny_encoder, subword="mean", cache_dir=tmp_path / "c")
    assert other.cache.key(["a"]) != last.cache.key(["a"])  # the sub-word rule is part of the key


def test_trainable_mode_fine_tunes_the_encoder(tiny_bert):
    from bertkit.encoder import Encoder

    enc = Encoder(tiny_bert, device="cpu")
    emb = ContextualEmbedding(encoder=enc, trainable=True, layers="-2:", batch_size=1)
    names = [n for n, p in emb.named_parameters() if p.requires_grad]
    assert any(n.startswith("encoder.") for n in names)
    vectors, mask = emb([["a", "b", "c"], ["d"]])
    (vectors * mask.unsqueeze(-1)).sum().backward()
    grads = [p.grad for n, p in emb.named_parameters() if n.startswith("encoder.encoder.layer.")]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_bad_input(tiny_encoder):
    emb = ContextualEmbedding(encoder=tiny_encoder, cache=False)
    with pytest.raises(UsageError, match="input 1"):
        emb([["a"], 3])
    with pytest.raises(UsageError, match="valid options: first, last, first_last, mean"):
        ContextualEmbedding(encoder=tiny_encoder, subword="middle")
