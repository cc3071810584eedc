"""Exact blocked top-k against a full sort; usearch's recall against exact; RRF's formula; BM25."""

from __future__ import annotations

import numpy as np
import pytest

from bertkit.retrieval import exact as exact_module
from bertkit.retrieval.ann import AnnGraph
from bertkit.retrieval.exact import exact_search, topk
from bertkit.retrieval.lexical import Bm25, reciprocal_rank_fusion


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, x[:40] + 0.1 * rng.standard_normal((40, 32)).astype(np.float32)


def test_blocked_exact_search_equals_a_full_sort(data, monkeypatch):
    x, q = data
    monkeypatch.setattr(exact_module, "_BLOCK_BYTES", 4096)  # many small blocks
    mask = np.arange(len(x)) % 3 != 0
    scores, rows = exact_search(lambda a, b: a @ b.T, x, q, 7, mask)
    full = np.where(mask[None], q @ x.T, -np.inf)
    want = np.argsort(-full, axis=1)[:, :7]
    assert np.array_equal(rows, want)
    assert np.allclose(scores, np.take_along_axis(full, want, axis=1))


def test_a_filter_with_fewer_rows_than_k_returns_fewer(data):
    x, q = data
    mask = np.zeros(len(x), bool)
    mask[[5, 9]] = True
    _, rows = exact_search(lambda a, b: a @ b.T, x, q[:2], 5, mask)
    assert set(rows[0][rows[0] >= 0]) == {5, 9} and (rows[:, 2:] == -1).all()


def test_topk_is_sorted_and_handles_k_over_n():
    vals, cols = topk(np.array([[0.1, 0.9, 0.5]]), 5)
    assert cols.tolist() == [[1, 2, 0]] and vals.tolist() == [[0.9, 0.5, 0.1]]


def test_usearch_recall_against_exact(data):
    x, q = data
    graph = AnnGraph("fp32", 32)
    graph.add(np.arange(len(x)), x)
    found = graph.search(q, 10)
    _, want = exact_search(lambda a, b: a @ b.T, x, q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, want)])
    assert recall >= 0.95
    graph.remove(np.array([int(want[0, 0])]))
    assert int(want[0, 0]) not in set(graph.search(q[:1], 10)[0])


def test_rrf_matches_the_formula():
    dense = np.array([[3, 1, 2, -1]])
    lexical = np.array([[1, 4, -1, -1]])
    scores, rows = reciprocal_rank_fusion([dense, lexical], 4)
    # 1: 1/62 + 1/61; 3: 1/61; 4: 1/62; 2: 1/63
    assert rows.tolist() == [[1, 3, 4, 2]]
    assert scores[0, 0] == pytest.approx(1 / 62 + 1 / 61)
    assert scores[0, 3] == pytest.approx(1 / 63)


def test_bm25_ranks_the_document_with_the_rare_term_first():
    bm25 = Bm25(["the cat sat", "a dog barked at the zebra", "the cat and the dog"])
    scores, rows = bm25.search(["zebra"], 3)
    assert rows[0, 0] == 1 and (rows[0, 1:] == -1).all()  # no term shared: no hit
    _, rows = bm25.search(["cat"], 3, mask=np.array([False, True, True]))
    assert rows[0, 0] == 2
