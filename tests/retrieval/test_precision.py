"""int8 / binary / truncated vectors: sentence-transformers' quantize_embeddings semantics, and rescoring."""

from __future__ import annotations

import numpy as np
import pytest

from bertkit.retrieval.exact import exact_search
from bertkit.retrieval.precision import Quantizer, bytes_per_vector, hamming, truncate


@pytest.fixture(scope="module")
def unit():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 64)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_int8_and_binary_match_sentence_transformers(unit):
    from sentence_transformers.quantization import quantize_embeddings

    q = Quantizer.fit("int8", unit)
    ours, _ = q.encode(unit)
    theirs = quantize_embeddings(unit, precision="int8", calibration_embeddings=unit)
    assert ours.dtype == np.int8 and (np.abs(ours.astype(int) - theirs.astype(int)) <= 1).all()
    assert (ours == theirs).mean() > 0.99  # floor vs float rounding at bucket edges only
    bits, rescore = Quantizer.fit("binary", unit).encode(unit)
    assert np.array_equal(bits, quantize_embeddings(unit, precision="ubinary"))
    assert rescore.shape == unit.shape and rescore.dtype == np.int8


def test_int8_scores_approximate_the_cosine(unit):
    q = Quantizer.fit("int8", unit)
    stored, _ = q.encode(unit)
    approx = q.scores(unit[:10], stored)  # (10, 500)
    assert np.abs(approx - unit[:10] @ unit.T).max() < 0.05
    assert np.allclose(q.dequantize(stored), unit, atol=0.02)


def test_hamming_counts_differing_bits():
    a = np.packbits(np.array([[1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]], dtype=bool), axis=1)
    b = np.packbits(np.array([[0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0]], dtype=bool), axis=1)
    assert hamming(a, b)[0, 0] == 3 and hamming(a, a)[0, 0] == 0


def test_truncation_renormalises(unit):
    t = truncate(unit, 16, normalize=True)
    assert t.shape == (500, 16) and np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert np.allclose(t, unit[:, :16] / np.linalg.norm(unit[:, :16], axis=1, keepdims=True), atol=1e-6)


def test_binary_with_rescoring_recovers_most_of_the_exact_top10(unit):
    q = Quantizer.fit("binary", unit)
    bits, rescore = q.encode(unit)
    queries = unit[:50] + 0.3 * np.random.default_rng(1).standard_normal((50, 64)).astype(np.float32)
    _, exact = exact_search(lambda a, b: a @ b.T, unit, queries, 10)
    _, cand = exact_search(q.scores, bits, queries, 40)
    rescored = [c[np.argsort(-q.int8_scores(qq[None], rescore[c])[0])][:10] for qq, c in zip(queries, cand)]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, rescored)])
    assert recall > 0.6


def test_bytes_per_vector():
    assert bytes_per_vector("fp32", 384) == {"search": 1536, "total": 1536}
    assert bytes_per_vector("fp16", 384)["total"] == 768
    assert bytes_per_vector("int8", 384)["total"] == 384
    assert bytes_per_vector("binary", 384) == {"search": 48, "total": 432}
