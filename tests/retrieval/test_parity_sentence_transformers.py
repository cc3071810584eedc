"""Dense search over the packaged MiniLM = sentence-transformers ``util.semantic_search`` with the same model."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval_data import DOCS


@pytest.fixture(scope="module")
def st_model(minilm_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


def test_same_vectors_same_ranking(st_model, minilm_dir):
    from sentence_transformers import util

    from bertkit.embeddings.embedder import Embedder
    from bertkit.retrieval import Index

    ids = [i for i in DOCS if i != "long"]  # one passage per document, as semantic_search sees them
    texts = [DOCS[i] for i in ids]
    index = Index.build(texts, ids, embedder=Embedder(minilm_dir, backend="torch", dtype="fp32", device="cpu"))
    queries = ["What is the capital of France?", "animals that purr", "a safe systems language"]
    corpus_st = st_model.encode(texts, convert_to_tensor=True, normalize_embeddings=True)
    ours_vectors = index.embed_queries(texts)
    cosine = (ours_vectors * corpus_st.numpy()).sum(axis=1)
    assert cosine.min() > 0.9999
    theirs = util.semantic_search(st_model.encode(queries, convert_to_tensor=True, normalize_embeddings=True), corpus_st, top_k=4)
    ours = index.search(queries, top_k=4)
    for mine, ref in zip(ours, theirs):
        assert [h.doc_id for h in mine] == [ids[r["corpus_id"]] for r in ref]
        assert np.allclose([h.score for h in mine], [r["score"] for r in ref], atol=1e-4)
