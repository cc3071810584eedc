"""Index: build, search, persist, add/delete, filters, and the refusals (other encoder, altered files)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertkit.errors import ModelLoadError, ParameterError
from bertkit.retrieval import Hit, Index

from retrieval_data import DOCS


def test_hits_point_into_their_documents(small_index):
    hits = small_index.search(["capital of France", "programming language"], top_k=5)
    assert len(hits) == 2 and all(len(h) == 5 for h in hits)
    for h in hits[0] + hits[1]:
        assert isinstance(h, Hit) and h.passage_id.startswith(h.doc_id + "#")
        assert DOCS[h.doc_id][h.start : h.end] == h.text
        assert h.to_dict()["metadata"]["source"] == h.metadata["source"]
    scores = [h.score for h in hits[0]]
    assert scores == sorted(scores, reverse=True)


def test_long_documents_are_split_and_the_exact_match_wins(small_index):
    long_passages = [p for p in small_index._table.passage_ids if p.startswith("long#")]
    assert len(long_passages) > 5  # 40 sentences of ~14 tokens, 24-token passages
    text = small_index._table.texts[small_index._table.passage_ids.index("long#3")]
    best = small_index.search([text], top_k=1)[0][0]
    assert best.passage_id == "long#3" and best.score == pytest.approx(1.0, abs=1e-5)


def test_save_and_load_give_the_same_hits(small_index, tiny_embedder, tmp_path):
    small_index.save(tmp_path / "ix")
    loaded = Index.load(tmp_path / "ix", embedder=tiny_embedder)
    q = ["capital city", "loyal pets"]
    assert [[h.to_dict() for h in r] for r in loaded.search(q, top_k=4)] == [[h.to_dict() for h in r] for r in small_index.search(q, top_k=4)]
    assert json.loads((tmp_path / "ix" / "bertkit.json").read_text())["task"] == "index"


def test_another_encoder_is_refused_naming_both(small_index, tmp_path, tiny_bert_no_pooler):
    from bertkit.embeddings.embedder import Embedder

    small_index.save(tmp_path / "ix")
    other = Embedder(tiny_bert_no_pooler, pooling="mean", backend="torch", dtype="fp32", device="cpu")
    with pytest.raises(ModelLoadError, match=r"built with encoder .*sha256.* not with .*sha256"):
        Index.load(tmp_path / "ix", embedder=other)
    cls = Embedder(small_index.embedder.encoder.path, pooling="cls", backend="torch", dtype="fp32", device="cpu")
    with pytest.raises(ModelLoadError, match="pooling mean.*pooling cls"):
        Index.load(tmp_path / "ix", embedder=cls)


def test_an_altered_file_is_refused(small_index, tiny_embedder, tmp_path):
    small_index.save(tmp_path / "ix")
    path = tmp_path / "ix" / "vectors.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="vectors.safetensors was altered"):
        Index.load(tmp_path / "ix", embedder=tiny_embedder)


def test_a_dimension_mismatch_is_refused(small_index, tiny_embedder, tmp_path):
    from bertkit.modeldir import finish_writing
    from bertkit.retrieval.store import read_index

    small_index.save(tmp_path / "ix")
    config, *_ = read_index(tmp_path / "ix")
    config.dim = config.dim - 8  # a config re-signed with another dim than the vectors hold
    finish_writing(tmp_path / "ix", config)
    with pytest.raises(ModelLoadError, match="dim 24"):
        Index.load(tmp_path / "ix", embedder=tiny_embedder)


def test_add_and_delete(small_index, tiny_embedder, tmp_path):
    small_index.add(["Madrid is the capital of Spain."], ids=["madrid"], metadata=[{"source": "wiki"}])
    assert small_index.search(["Madrid is the capital of Spain."], top_k=1)[0][0].doc_id == "madrid"
    with pytest.raises(ParameterError, match="duplicate document id 'paris' \\(already in the index\\)"):
        small_index.add(["again"], ids=["paris"])
    small_index.delete(["paris", "madrid"])
    assert not any(h.doc_id in ("paris", "madrid") for h in small_index.search(["capital"], top_k=100)[0])
    with pytest.raises(ParameterError, match="unknown document id 'nope'"):
        small_index.delete(["nope"])
    small_index.save(tmp_path / "ix")
    loaded = Index.load(tmp_path / "ix", embedder=tiny_embedder)
    assert loaded.config.documents == len(DOCS) - 1 and len(loaded) == len(small_index)


def test_filters(small_index):
    hits = small_index.search(["anything at all"], top_k=50, filter={"source": "pets"})[0]
    assert {h.doc_id for h in hits} == {"cats", "dogs"}
    hits = small_index.search(["anything"], top_k=50, filter={"source": ["pets", "code"], "n": 2})[0]
    assert {h.doc_id for h in hits} == {"cats"}
    assert small_index.search(["x"], top_k=3, filter={"doc_id": "rust"})[0][0].doc_id == "rust"
    with pytest.raises(ParameterError, match="unknown metadata field 'lang' in filter; fields: doc_id, n, source"):
        small_index.search(["x"], filter={"lang": "en"})


def test_bad_arguments(tiny_embedder, small_index):
    with pytest.raises(ParameterError, match="empty corpus"):
        Index.build([], embedder=tiny_embedder)
    with pytest.raises(ParameterError, match="unknown precision 'int4'"):
        Index.build(["a"], embedder=tiny_embedder, precision="int4")
    with pytest.raises(ParameterError, match="dim 64 out of range"):
        Index.build(["a"], embedder=tiny_embedder, dim=64)
    with pytest.raises(ParameterError, match="multiple of 8"):
        Index.build(["a"], embedder=tiny_embedder, precision="binary", dim=12)
    with pytest.raises(ParameterError, match="duplicate document id 'a'"):
        Index.build(["x", "y"], ids=["a", "a"], embedder=tiny_embedder)
    with pytest.raises(ParameterError, match="top_k"):
        small_index.search(["x"], top_k=0)
    with pytest.raises(ParameterError, match="query vectors must be"):
        small_index.search_vectors(np.zeros((1, 5)))


@pytest.mark.parametrize("precision,dim", [("fp16", None), ("int8", None), ("binary", 32), ("fp32", 16)])
def test_precisions_and_dims_find_the_exact_passage(tiny_embedder, corpus, precision, dim, tmp_path):
    texts, ids, meta = corpus
    index = Index.build(texts, ids, meta, embedder=tiny_embedder, precision=precision, dim=dim)
    assert index.search([DOCS["rust"]], top_k=1)[0][0].doc_id == "rust"
    index.save(tmp_path / "ix")
    loaded = Index.load(tmp_path / "ix", embedder=tiny_embedder)
    assert loaded.config.precision == precision and loaded.config.dim == (dim or 32)
    assert [h.passage_id for h in loaded.search(["capital"], top_k=3)[0]] == [h.passage_id for h in index.search(["capital"], top_k=3)[0]]


def test_usearch_backend_finds_what_exact_finds(tiny_embedder, corpus, tmp_path):
    texts, ids, meta = corpus
    exact = Index.build(texts, ids, meta, embedder=tiny_embedder, backend="exact")
    approx = Index.build(texts, ids, meta, embedder=tiny_embedder, backend="usearch")
    assert approx.search_backend == "usearch"
    q = ["capital", "pets", "language"]
    assert [[h.passage_id for h in r] for r in approx.search(q, top_k=3)] == [[h.passage_id for h in r] for r in exact.search(q, top_k=3)]
    approx.save(tmp_path / "ix")
    assert (tmp_path / "ix" / "ann.usearch").is_file()
    loaded = Index.load(tmp_path / "ix", embedder=tiny_embedder)
    approx.delete(["paris"])
    loaded.delete(["paris"])
    assert [h.doc_id for h in loaded.search(q, top_k=3)[0]] == [h.doc_id for h in approx.search(q, top_k=3)[0]]
    assert "paris" not in {h.doc_id for h in loaded.search(q, top_k=20)[0]}
