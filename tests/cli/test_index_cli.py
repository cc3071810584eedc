"""`bertkit index build|add`, `bertkit search` and `bertkit search evaluate` as a user runs them."""

from __future__ import annotations

import json

import pytest
import torch

from bertkit.cli.app import main

DOCS = [
    {"_id": "paris", "title": "Paris", "text": "Paris is the capital of France.", "source": "wiki"},
    {"_id": "cats", "title": "Cats", "text": "Cats are small mammals that purr.", "source": "pets"},
    {"_id": "rust", "title": "Rust", "text": "Rust is a programming language.", "source": "code"},
]


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def built(tmp_path, tiny_bert, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    code, _, err = run(["index", "build", corpus, "-o", tmp_path / "ix", "--model", tiny_bert, "--embed-backend", "torch", "--dtype", "fp32"], capsys)
    assert code == 0, err
    assert "3 documents, 3 passages" in err and "fp32 x 32" in err and "search exact" in err
    return tmp_path


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_build_search_add_evaluate(built, capsys):
    ix = built / "ix"
    code, out, err = run(["search", ix, "Paris is the capital of France.", "--top-k", "2", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["hits"][0]["doc_id"] == "paris" and result["hits"][0]["text"] == "Paris Paris is the capital of France."
    code, out, _ = run(["search", ix, "anything", "--filter", '{"source": "pets"}', "--json", "--hybrid"], capsys)
    assert [h["doc_id"] for h in json.loads(out)["hits"]] == ["cats"]
    code, out, _ = run(["search", ix, "capital"], capsys)
    assert code == 0 and "paris#0" in out
    (built / "more.jsonl").write_text('{"id": "oslo", "text": "Oslo is the capital of Norway."}\n')
    code, _, err = run(["index", "add", ix, built / "more.jsonl"], capsys)
    assert code == 0 and "added 1 documents" in err and "4 documents" in err
    (built / "q.jsonl").write_text('{"_id": "1", "text": "Oslo is the capital of Norway."}\n{"_id": "2", "text": "purring mammals"}\n')
    (built / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n1\toslo\t1\n2\tcats\t1\n")
    code, out, err = run(["search", "evaluate", "--index", ix, "--queries", built / "q.jsonl", "--qrels", built / "qrels.tsv", "--json"], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics["queries"] == 2 and metrics["recall@100"] == 1.0 and 0 < metrics["ndcg@10"] <= 1


@pytest.mark.parametrize("args, message", [
    (["search", "{ix}", "q", "--filter", '{"lang": "en"}'], "unknown metadata field 'lang' in --filter; fields: doc_id, source, title"),
    (["search", "{ix}", "q", "--filter", "not json"], "--filter must be a JSON object"),
    (["search", "{ix}"], "give a QUERY"),
    (["search", "evaluate", "--index", "{ix}"], "needs --queries, --qrels"),
    (["index", "add", "{ix}", "{root}/corpus.jsonl"], "duplicate document id 'paris' (already in the index)"),
    (["search", "{root}/nowhere", "q"], "does not exist; expected a bertkit index model directory"),
])
def test_errors_are_one_line_exit_2(built, capsys, args, message):
    argv = [a.replace("{ix}", str(built / "ix")).replace("{root}", str(built)) for a in args]
    code, _, err = run(argv, capsys)
    assert code == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_corpora_and_options(tmp_path, tiny_bert, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "fine"}\n{"id": "2", "text": oops}\n')
    code, _, err = run(["index", "build", bad, "-o", tmp_path / "ix", "--model", tiny_bert], capsys)
    assert code == 2 and "bad.jsonl, line 2: malformed JSON" in err
    (tmp_path / "empty.jsonl").write_text("")
    code, _, err = run(["index", "build", tmp_path / "empty.jsonl", "-o", tmp_path / "ix", "--model", tiny_bert], capsys)
    assert code == 2 and "no documents found (empty corpus)" in err
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "1", "text": "fine"}\n')
    for flags, message in ((["--backend", "faiss"], "unknown --backend 'faiss'; valid options: auto, exact, usearch"),
                           (["--precision", "int4"], "unknown --precision 'int4'"),
                           (["--dim", "100"], "--dim 100 out of range: the encoder gives 32-dimensional vectors"),
                           (["--precision", "binary", "--dim", "12"], "--dim 12 must be a multiple of 8")):
        code, _, err = run(["index", "build", good, "-o", tmp_path / "ix", "--model", tiny_bert, *flags], capsys)
        assert code == 2 and message in err, err
    assert not (tmp_path / "ix").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    code, _, err = run(["index", "build", good, "-o", tmp_path / "mine", "--model", tiny_bert], capsys)
    assert code == 2 and "exists and is not a bertkit index directory" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_another_encoder_is_refused(built, tiny_bert_no_pooler, capsys):
    code, _, err = run(["search", built / "ix", "q", "--json"], capsys)
    assert code == 0
    from bertkit.embeddings.embedder import Embedder
    from bertkit.errors import ModelLoadError
    from bertkit.retrieval import Index

    with pytest.raises(ModelLoadError, match="was built with encoder"):
        Index.load(built / "ix", embedder=Embedder(tiny_bert_no_pooler, pooling="mean", backend="torch", dtype="fp32"))


def test_rerank_reorders_the_candidates(built, capsys, monkeypatch):
    """--rerank goes through bertkit.rerank.Reranker.load(DIR).rank(query, documents, top_k)."""
    from bertkit.rerank import reranker as rerank_module

    calls = []

    class Fake:
        def rank(self, query, documents, top_k=None):
            calls.append((query, list(documents), top_k))
            order = sorted(range(len(documents)), key=lambda i: "purr" not in documents[i])  # cats first
            return [rerank_module.RankResult(i, 1.0 - r / 10, documents[i]) for r, i in enumerate(order)][:top_k]

    monkeypatch.setattr(rerank_module.Reranker, "load", classmethod(lambda cls, path, **kw: Fake()))
    code, out, err = run(["search", built / "ix", "Paris is the capital of France.", "--rerank", "some-dir", "--top-k", "2", "--json"], capsys)
    assert code == 0, err
    hits = json.loads(out)["hits"]
    assert hits[0]["doc_id"] == "cats" and hits[0]["score"] == 1.0 and len(hits) == 2
    assert calls[0][0] == "Paris is the capital of France." and len(calls[0][1]) == 3
