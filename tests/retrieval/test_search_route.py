"""``POST /search`` on a real server (uvicorn on a free port) over an index of a tiny encoder."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from serve_helpers import running  # noqa: E402

from bertkit.serve import ServeOptions  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny_bert, tiny_embedder, corpus):
    from bertkit.retrieval import Index

    texts, ids, meta = corpus
    path = tmp_path_factory.mktemp("served") / "ix"
    Index.build(texts, ids, meta, embedder=tiny_embedder).save(path)
    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False, index=str(path), backend="torch", dtype="fp32")
    with running(options) as (url, _, _), httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_one_query_and_several(client, corpus):
    texts, ids, _ = corpus
    r = client.post("/search", json={"query": texts[ids.index("rust")], "top_k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == texts[ids.index("rust")] and len(body["hits"]) == 2
    assert body["hits"][0]["doc_id"] == "rust" and set(body["hits"][0]) == {"passage_id", "doc_id", "score", "text", "start", "end", "metadata"}
    r = client.post("/search", json={"queries": ["capital", "pets"], "top_k": 3, "filter": {"source": "pets"}, "hybrid": True})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["query"] for x in results] == ["capital", "pets"]
    assert all(h["metadata"]["source"] == "pets" for x in results for h in x["hits"])


@pytest.mark.parametrize("body, status, message", [
    ({"query": "x", "filter": {"lang": "en"}}, 400, "unknown metadata field 'lang'"),
    ({"query": "x", "queries": ["y"]}, 422, "exactly one of query"),
    ({}, 422, "exactly one of query"),
    ({"query": "   "}, 400, "empty"),
    ({"query": "x", "top_k": 0}, 422, "top_k"),
    ({"query": "x", "topk": 3}, 422, "topk"),
])
def test_bad_requests_get_a_json_error(client, body, status, message):
    r = client.post("/search", json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
