"""Every error status over real HTTP, always JSON, and the server keeps serving after a 500."""

from __future__ import annotations

import httpx
import pytest

from bertkit.serve import ServeOptions
from serve_helpers import running

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def tiny(tiny_bert, serve_threads):
    """A tiny random encoder only, with an API key, a 4 KB payload limit and 8 inputs per request."""
    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False, api_key=KEY,
                           payload_limit="4KB", max_client_batch_size=8)
    with running(options) as (url, app, _):
        with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {KEY}"}) as client:
            yield client, app


def _check(r: httpx.Response, status: int, kind: str, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error_type"] == kind and isinstance(body["error"], str)
    for w in words:
        assert w in body["error"]
    assert "Traceback" not in r.text


def test_malformed_json_and_wrong_types_422(tiny):
    client, _ = tiny
    _check(client.post("/embed", content=b'{"inputs": [', headers={"Content-Type": "application/json"}), 422, "Validation", "malformed JSON")
    _check(client.post("/embed", json={"inputs": 3}), 422, "Validation", "inputs", "str")
    _check(client.post("/embed", json={"inputs": ["a"], "normalize": "yes"}), 422, "Validation", "normalize")
    _check(client.post("/embed", json={"text": "a"}), 422, "Validation", "inputs", "required")
    _check(client.post("/embed", json=["a"]), 422, "Validation", "JSON object")


def test_empty_input_400(tiny):
    client, _ = tiny
    _check(client.post("/embed", json={"inputs": []}), 400, "Empty", "empty")
    _check(client.post("/embed", json={"inputs": ["ok", "  "]}), 400, "Empty", "inputs[1]")


def test_client_batch_limit_422_names_the_limit(tiny):
    client, _ = tiny
    _check(client.post("/embed", json={"inputs": ["x"] * 9}), 422, "Validation", "9", "8")


def test_payload_limit_413(tiny):
    client, _ = tiny
    _check(client.post("/embed", json={"inputs": ["word " * 1000]}), 413, "PayloadTooLarge", "4000")

    def chunks():  # no Content-Length: the limit holds on the streamed body too
        yield b'{"inputs": ["'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"]}'

    _check(client.post("/embed", content=chunks(), headers={"Content-Type": "application/json"}), 413, "PayloadTooLarge")


def test_model_not_loaded_404_lists_loaded(tiny):
    client, _ = tiny
    _check(client.post("/predict", json={"inputs": "great"}), 404, "NotFound", "classify", "loaded: embed")
    _check(client.post("/answer", json={"question": "q?", "context": "c."}), 404, "NotFound", "loaded: embed")
    _check(client.get("/nowhere"), 404, "NotFound", "/nowhere")


def test_api_key_401(tiny):
    client, _ = tiny
    url = str(client.base_url)
    _check(httpx.post(url + "/embed", json={"inputs": "a"}), 401, "Unauthorized", "missing")
    _check(httpx.post(url + "/embed", json={"inputs": "a"}, headers={"Authorization": "Bearer nope"}), 401, "Unauthorized", "wrong")
    assert httpx.get(url + "/health").status_code == 200  # health and the page stay public
    assert httpx.get(url + "/").status_code == 200
    assert httpx.get(url + "/metrics").status_code == 401


def test_openai_route_uses_openai_error_shape(tiny):
    client, _ = tiny
    r = client.post("/v1/embeddings", json={"input": 3})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and "input" in err["message"]
    r = httpx.post(str(client.base_url) + "/v1/embeddings", json={"input": "a"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = client.post("/v1/embeddings", json={"input": "a", "dimensions": 7})
    assert r.status_code == 422 and "32" in r.json()["error"]["message"]


def test_engine_failure_500_with_request_id_then_keeps_serving(tiny, caplog):
    client, app = tiny
    model = app.state.bertkit.models.embed
    original = model.run_embed

    def broken(truncate, texts):
        if "boom" in texts:
            raise RuntimeError("engine exploded")
        return original(truncate, texts)

    model.run_embed = broken
    try:
        with caplog.at_level("ERROR", logger="bertkit.serve"):
            r = client.post("/embed", json={"inputs": ["boom"]})
        _check(r, 500, "Backend", "request id")
        rid = r.headers["x-request-id"]
        assert rid in r.json()["error"]
        assert any(rid in rec.getMessage() for rec in caplog.records)
    finally:
        model.run_embed = original
    ok = client.post("/embed", json={"inputs": ["fine"]})
    assert ok.status_code == 200 and len(ok.json()) == 1


def test_library_refusal_is_422(tiny):
    client, _ = tiny
    _check(client.post("/similarity", json={"inputs": {"source_sentence": "a", "sentences": ["b"]}, "pooling": "attention"}), 422, "Validation", "mean")
