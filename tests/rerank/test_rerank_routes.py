"""/rerank (TEI), /v1/rerank (Cohere / Jina) and /answer over an index, on a real socket."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from serve_helpers import running  # noqa: E402

from bertkit.rerank import Reranker  # noqa: E402
from bertkit.serve import ServeOptions  # noqa: E402
from bertkit.serve.routes_rerank import RerankParts  # noqa: E402
from bertkit.serve.errors import ApiError  # noqa: E402

from rerank_fixtures import PASSAGES, QUERIES  # noqa: E402

DOCS = ["Paris is the capital of France. The Seine flows through it.",
        "Marie Curie was born in Warsaw in 1867. She won two Nobel Prizes.",
        "The Amazon river flows through Brazil into the Atlantic Ocean."]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    from bertkit.retrieval import Index

    path = tmp_path_factory.mktemp("served-index") / "index"
    Index.build(DOCS, ["paris", "curie", "amazon"]).save(path)
    return path


@pytest.fixture(scope="module")
def server(cross_encoder_dir, index_dir):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    options = ServeOptions(serve_embed=False, serve_classify=False, serve_qa=True, rerank=str(cross_encoder_dir), index=str(index_dir))
    with running(options) as (url, app, _):
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client
    torch.set_num_threads(threads)


def test_tei_rerank(server, cross_encoder_dir):
    want = Reranker.load(cross_encoder_dir).rank(QUERIES[0], PASSAGES)
    r = server.post("/rerank", json={"query": QUERIES[0], "texts": PASSAGES})
    assert r.status_code == 200, r.text
    got = r.json()
    assert [x["index"] for x in got] == [w.index for w in want]
    assert all(set(x) == {"index", "score"} for x in got)
    assert got[0]["score"] == pytest.approx(want[0].score, abs=1e-5)
    raw = server.post("/rerank", json={"query": QUERIES[0], "texts": PASSAGES, "raw_scores": True, "return_text": True}).json()
    assert raw[0]["text"] == PASSAGES[raw[0]["index"]]
    assert raw[0]["score"] < 0 or raw[0]["score"] > 1 or raw[0]["score"] != got[0]["score"]


def test_cohere_rerank(server):
    r = server.post("/v1/rerank", json={"model": "mine", "query": QUERIES[1], "documents": [{"text": p} for p in PASSAGES],
                                        "top_n": 2, "return_documents": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "mine" and body["usage"]["total_tokens"] > 0
    assert len(body["results"]) == 2
    first = body["results"][0]
    assert first["document"]["text"] == PASSAGES[first["index"]]
    assert first["relevance_score"] >= body["results"][1]["relevance_score"]
    plain = server.post("/v1/rerank", json={"query": QUERIES[1], "documents": PASSAGES}).json()
    assert len(plain["results"]) == len(PASSAGES) and "document" not in plain["results"][0]


def test_answer_from_the_index(server):
    r = server.post("/answer", json={"question": "Where was Marie Curie born?", "passages": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "Warsaw" and body["doc_id"] == "curie"
    assert DOCS[1][body["start"]:body["end"]] == "Warsaw"
    assert len(body["passages"]) == 3 and body["passages"][0]["rerank_score"] is not None
    with_context = server.post("/answer", json={"question": "Where was Marie Curie born?", "context": DOCS[1]})
    assert with_context.status_code == 200 and with_context.json()["text"] == "Warsaw"


def test_errors_are_json_4xx(server):
    assert server.post("/rerank", json={"query": "q", "texts": []}).status_code == 400
    assert server.post("/rerank", json={"query": "q"}).status_code == 422
    long = server.post("/rerank", json={"query": "q", "texts": ["word " * 100]})  # the tiny model reads 64 tokens
    assert long.status_code == 413 and "truncate" in long.json()["error"]
    assert server.post("/rerank", json={"query": "q", "texts": ["word " * 100], "truncate": True}).status_code == 200
    bad = server.post("/answer", json={"question": "q", "passages": 0})
    assert bad.status_code == 422 and "error" in bad.json()
    assert server.post("/answer", json={"question": "q", "context": 3}).status_code == 422


def test_the_token_budget_is_413_on_the_rerank_and_corpus_routes(server):
    """--max-input-tokens (32768 by default) holds here as on /embed: refused before any model work."""
    def refused(path, body):
        r = server.post(path, json=body)
        assert r.status_code == 413, (path, r.text)
        error = r.json()["error"]
        assert "--max-input-tokens" in (error if isinstance(error, str) else error["message"]), (path, r.text)

    refused("/rerank", {"query": "q", "texts": ["word " * 2000] * 20, "truncate": True})  # 20 pairs of ~2,000 tokens
    # each document is read with the query: 40 pairs of a ~1,000-token query are over the budget, though the texts are not
    refused("/v1/rerank", {"query": "word " * 1000, "documents": ["a"] * 40})
    assert server.post("/v1/rerank", json={"query": "word " * 1000, "documents": ["a"] * 2}).status_code == 200
    refused("/answer", {"question": ["word " * 520] * 64})  # over the index: retrieve, rerank, read
    refused("/search", {"queries": ["word " * 520] * 64})


def test_nothing_served_is_404():
    with pytest.raises(ApiError) as exc:
        RerankParts().get("rerank")
    assert exc.value.status == 404 and "--rerank" in exc.value.message


def test_info_says_what_is_served(server):
    assert server.get("/rerank/info").json() == {"rerank": True, "index": True}


CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_page_asks_over_the_corpus(server):
    """The page's corpus panel in headless Chromium: passages with scores, the answer marked in its passage."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(str(server.base_url) + "/")
            page.wait_for_selector("#corpus-panel:not([hidden])", timeout=20000)
            page.fill("#corpus-question", "Where was Marie Curie born?")
            page.click("#corpus-ask")
            mark = page.wait_for_selector("#corpus-passages mark.answer", timeout=60000)
            assert mark.text_content() == "Warsaw"
            assert page.locator("#corpus-passages li").count() == 3
            assert "rerank" in page.locator("#corpus-passages li .muted").first.text_content()
            assert "document curie" in page.text_content("#corpus-result")
        finally:
            browser.close()
