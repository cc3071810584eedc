"""Parity with reference implementations: sentence-transformers and transformers' BertModel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertkit.embeddings import Embedder
from bertkit.embeddings.layers import parse_layers

SENTENCES = [
    "A gorgeous, witty film.",
    "The cat sat on the mat while the dog slept by the fire.",
    "",
    "Naïve café owners déjà vu — really?",
    "short",
    "Question answering needs context, and context needs windows " * 5,
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _reference(encoder, texts):
    tok = encoder.tokenizer(texts, padding=True, truncation=True, max_length=encoder.max_length, return_tensors="pt")
    with torch.no_grad():
        return tok, encoder.model(**tok, output_hidden_states=True)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_mean_matches_sentence_transformers(minilm_encoder, minilm_dir):
    from sentence_transformers import SentenceTransformer

    ours = Embedder(pooling="mean", encoder=minilm_encoder).embed(SENTENCES)
    st = SentenceTransformer(str(minilm_dir), device="cpu").encode(SENTENCES, batch_size=4)
    # The packaged model normalises in its pipeline when it has a Normalize module; compare directions.
    assert ours.shape == st.shape
    assert _cos(ours, st).min() >= 0.9999


def test_pooler_equals_transformers_pooler_output(minilm_encoder):
    ours = Embedder(pooling="pooler", encoder=minilm_encoder).embed(SENTENCES)
    _, ref = _reference(minilm_encoder, SENTENCES)
    np.testing.assert_allclose(ours, ref.pooler_output.numpy(), atol=1e-5)


def test_cls_equals_first_token_of_last_hidden_state(minilm_encoder):
    ours = Embedder(pooling="cls", encoder=minilm_encoder).embed(SENTENCES)
    _, ref = _reference(minilm_encoder, SENTENCES)
    np.testing.assert_allclose(ours, ref.last_hidden_state[:, 0].numpy(), atol=1e-5)


@pytest.mark.parametrize("spec", ["-2", "-4:", "0", "all", "-1,-3"])
def test_layer_selection_averages_the_right_hidden_states(minilm_encoder, spec):
    ours = Embedder(pooling="max", layers=spec, encoder=minilm_encoder).embed(SENTENCES[:2])
    tok, ref = _reference(minilm_encoder, SENTENCES[:2])
    sel = parse_layers(spec, minilm_encoder.num_layers)
    states = torch.stack([ref.hidden_states[i] for i in sel.indices]).mean(0)
    mask = tok["attention_mask"].bool().unsqueeze(-1)
    expected = states.masked_fill(~mask, float("-inf")).amax(1).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_order_and_batching_do_not_change_vectors(tiny_encoder):
    emb = Embedder(pooling="mean+max", encoder=tiny_encoder, batch_size=2)
    together = emb.embed(SENTENCES)
    alone = np.stack([emb.embed([s])[0] for s in SENTENCES])
    np.testing.assert_allclose(together, alone, atol=1e-5)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_bf16_stays_close_to_fp32(minilm_dir):
    import contextlib

    from bertkit.encoder.encoder import cpu_has_native_bf16
    from bertkit.errors import BertkitWarning

    fp32 = Embedder(minilm_dir, pooling="mean", device="cpu").embed(SENTENCES)
    # Without native bf16 the user is warned that it will be slow.
    expect = contextlib.nullcontext() if cpu_has_native_bf16() else pytest.warns(BertkitWarning, match="no native bf16")
    with expect:
        bf16 = Embedder(minilm_dir, pooling="mean", device="cpu", dtype="bf16").embed(SENTENCES)
    assert bf16.dtype == np.float32
    assert _cos(fp32, bf16).min() > 0.99


def test_normalize_gives_unit_vectors_and_empty_text_embeds(tiny_encoder):
    v = Embedder(pooling="mean", normalize=True, encoder=tiny_encoder).embed(["", "hello"])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
