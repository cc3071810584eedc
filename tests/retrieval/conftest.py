"""Fixtures for the retrieval tests: a tiny random encoder's Embedder, corpora the tests make."""

from __future__ import annotations

import pytest

from retrieval_data import DOCS, SOURCES  # noqa: E402


@pytest.fixture(scope="session")
def tiny_embedder(tiny_bert):
    from bertkit.embeddings.embedder import Embedder

    return Embedder(tiny_bert, pooling="mean", backend="torch", dtype="fp32", device="cpu")


@pytest.fixture(scope="session")
def corpus():
    ids = list(DOCS)
    return [DOCS[i] for i in ids], ids, [{"source": SOURCES[i], "n": k} for k, i in enumerate(ids)]


@pytest.fixture
def small_index(tiny_embedder, corpus):
    from bertkit.retrieval import Index

    texts, ids, meta = corpus
    return Index.build(texts, ids, meta, embedder=tiny_embedder, passage_tokens=24, passage_overlap=4)


@pytest.fixture(autouse=True, scope="module")
def _single_thread(one_thread):
    """Tiny models on one torch thread (threads only stall on the shared machine)."""
    yield
