"""Every route's happy path over real HTTP equals the library's own output."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from bertkit.serve.models import SIMILARITY_POOLINGS

TEXTS = ["a gorgeous, witty, seductive movie", "the plot is a dull mess", "short"]
CONTEXT = (
    "The Amazon rainforest covers much of the Amazon basin of South America. The first European to travel "
    "the length of the Amazon River was Francisco de Orellana in 1542."
)


@pytest.fixture(scope="module")
def embedder(serve_threads):
    import bertkit

    return bertkit.Embedder(pooling="mean", backend="torch", dtype="fp32")


@pytest.fixture(scope="module")
def classifier(serve_threads):
    import bertkit

    return bertkit.load_classifier(backend="torch", dtype="fp32")


@pytest.fixture(scope="module")
def reader(serve_threads):
    import bertkit

    return bertkit.load_reader(backend="torch", dtype="fp32")


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_embed_equals_library(full_client, embedder):
    r = full_client.post("/embed", json={"inputs": TEXTS})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.array(r.json()), _unit(embedder.embed(TEXTS)), atol=2e-5)
    raw = full_client.post("/embed", json={"inputs": TEXTS[0], "normalize": False}).json()
    np.testing.assert_allclose(np.array(raw), embedder.embed(TEXTS[:1]), atol=2e-5)
    for name in ("x-queue-time", "x-inference-time", "x-compute-tokens", "x-request-id"):
        assert name in r.headers


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_embed_long_text_in_windows_or_truncated(full_client, embedder):
    import bertkit

    long_text = " ".join(["the film drags on and on, but the score is lovely"] * 60)  # ~700 tokens
    windowed = bertkit.Embedder(encoder=embedder.encoder, pooling_module=embedder.pooling, long="window", backend="torch", dtype="fp32")
    got = np.array(full_client.post("/embed", json={"inputs": [long_text], "truncate": False}).json())
    np.testing.assert_allclose(got, _unit(windowed.embed([long_text])), atol=2e-5)
    cut = np.array(full_client.post("/embed", json={"inputs": [long_text], "truncate": True}).json())
    np.testing.assert_allclose(cut, _unit(embedder.embed([long_text])), atol=2e-5)
    assert not np.allclose(got, cut, atol=1e-3)


def test_embed_all_equals_encoder_tokens(full_client, embedder):
    import torch

    got = full_client.post("/embed_all", json={"inputs": TEXTS[:2]}).json()
    enc = embedder.encoder
    for text, vectors in zip(TEXTS[:2], got):
        windows = enc.tokenize([text])
        _, batch = next(iter(enc.batches(windows, 1)))
        with torch.inference_mode():
            expected = enc.forward(batch).last_hidden_state[0].float().numpy()
        np.testing.assert_allclose(np.array(vectors), expected, atol=2e-5)


def test_tokenize_equals_tokenizer(full_client, embedder):
    got = full_client.post("/tokenize", json={"inputs": "Unbelievably good"}).json()[0]
    enc = embedder.encoder.tokenizer("Unbelievably good", return_offsets_mapping=True)
    assert [t["id"] for t in got] == enc["input_ids"]
    assert got[0]["special"] and got[0]["start"] is None
    assert [(t["start"], t["stop"]) for t in got[1:-1]] == [tuple(o) for o in enc["offset_mapping"][1:-1]]
    assert "".join(t["text"] for t in got[1:-1]).startswith("Unbeliev")
    bare = full_client.post("/tokenize", json={"inputs": ["Unbelievably good"], "add_special_tokens": False}).json()[0]
    assert [t["id"] for t in bare] == enc["input_ids"][1:-1]


def test_openai_client_float_and_base64(full_server, embedder):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=full_server[0] + "/v1", api_key="unused", max_retries=0)
    expected = _unit(embedder.embed(TEXTS))
    out = client.embeddings.create(model="minilm", input=TEXTS)  # the client asks for base64 and decodes it
    np.testing.assert_allclose(np.array([d.embedding for d in out.data]), expected, atol=2e-5)
    assert [d.index for d in out.data] == [0, 1, 2]
    tokens = sum(embedder.count_tokens(TEXTS)) if hasattr(embedder, "count_tokens") else None
    assert out.usage.prompt_tokens == out.usage.total_tokens > 0
    if tokens is not None:
        assert out.usage.prompt_tokens == tokens
    floats = client.embeddings.create(model="minilm", input="short", encoding_format="float")
    np.testing.assert_allclose(floats.data[0].embedding, expected[2], atol=2e-5)


def test_openai_base64_bytes_are_float32(full_client, embedder):
    r = full_client.post("/v1/embeddings", json={"input": ["short"], "encoding_format": "base64"}).json()
    vec = np.frombuffer(base64.b64decode(r["data"][0]["embedding"]), dtype=np.float32)
    np.testing.assert_allclose(vec, _unit(embedder.embed(["short"]))[0], atol=2e-5)
    assert r["object"] == "list" and r["data"][0]["object"] == "embedding"


def test_similarity_under_poolings(full_client, embedder):
    import bertkit

    pair = {"source_sentence": "A man is playing a guitar.", "sentences": ["Someone strums an instrument.", "A bowl of soup."]}
    for pooling in ("mean", "max"):
        got = full_client.post("/similarity", json={"inputs": pair, "pooling": pooling}).json()
        emb = bertkit.Embedder(encoder=embedder.encoder, pooling=pooling, backend="torch", dtype="fp32")
        v = _unit(emb.embed([pair["source_sentence"], *pair["sentences"]]))
        np.testing.assert_allclose(got, v[1:] @ v[0], atol=2e-5)
    assert set(SIMILARITY_POOLINGS) >= {"cls", "mean", "max"}


def test_predict_equals_classifier(full_client, classifier):
    got = full_client.post("/predict", json={"inputs": TEXTS}).json()
    probs = classifier.predict_proba(TEXTS)
    for row, p in zip(got, probs):
        assert [s["label"] for s in row] == [classifier.labels[i] for i in np.argsort(-p, kind="stable")]
        assert {s["label"]: s["score"] for s in row} == pytest.approx(dict(zip(classifier.labels, p.tolist())), abs=1e-5)
    single = full_client.post("/predict", json={"inputs": TEXTS[0], "top_k": 1, "raw_scores": True}).json()
    assert len(single) == 1 and single[0]["label"] == classifier.predict(TEXTS[:1])[0].label
    assert single[0]["score"] == pytest.approx(math.log(float(probs[0].max())), abs=1e-4)


def test_predict_explain_equals_library(full_client, classifier):
    got = full_client.post("/predict", json={"inputs": [TEXTS[0]], "explain": True}).json()[0]
    e = classifier.explain(TEXTS[0])
    assert got["explanation"]["tokens"] == e.tokens
    np.testing.assert_allclose(got["explanation"]["weights"], e.weights, atol=1e-5)
    assert got["predictions"][0]["label"] == e.prediction.label


def test_answer_equals_reader(full_client, reader):
    question = "Who was the first European to travel the Amazon River?"
    got = full_client.post("/answer", json={"question": question, "context": CONTEXT, "top_k": 3}).json()
    a = reader.answer([question], [CONTEXT], top_k=20)[0]
    assert got["text"] == a.text == CONTEXT[got["start"] : got["end"]]
    assert (got["start"], got["end"], got["no_answer"]) == (a.start, a.end, False)
    assert got["probability"] == pytest.approx(a.probability, abs=1e-4)
    assert len(got["candidates"]) <= 3 and got["candidates"][0]["text"] == a.text
    batch = full_client.post("/answer", json={"question": [question, "When did he travel it?"], "context": CONTEXT}).json()
    assert [b["text"] for b in batch] == [x.text for x in reader.answer([question, "When did he travel it?"], [CONTEXT] * 2)]


def test_answer_token_probabilities(full_client):
    got = full_client.post("/answer", json={"question": "When?", "context": CONTEXT, "token_probabilities": True}).json()
    tp = got["token_probabilities"]
    assert len(tp["tokens"]) == len(tp["start"]) == len(tp["end"]) == len(tp["spans"]) > 10
    assert 0.0 < sum(tp["start"]) <= 1.0 + 1e-6


def test_service_routes(full_client):
    assert full_client.get("/health").json() == {"status": "ok"}
    info = full_client.get("/info").json()
    assert set(info["models"]) == {"embed", "classify", "qa"}
    assert info["models"]["embed"]["dim"] == 384 and info["models"]["classify"]["labels"] == ["negative", "positive"]
    assert {"backend", "dtype", "device"} <= set(info["models"]["qa"]["runtime"])
    assert info["limits"]["max_client_batch_size"] == 64 and info["version"]
    metrics = full_client.get("/metrics").text
    assert 'bertkit_requests_total{route="/embed",status="200"}' in metrics
    for name in ("bertkit_request_duration_seconds_bucket", "bertkit_queue_duration_seconds_bucket", "bertkit_inference_duration_seconds_bucket",
                 "bertkit_batch_size_bucket", "bertkit_batch_tokens_bucket", "bertkit_queue_depth"):
        assert name in metrics
    assert "python_gc" not in metrics  # the app's own registry, not the process-global one
    assert "/embed" in full_client.get("/openapi.json").json()["paths"]
    assert full_client.get("/docs").status_code == 200
    page = full_client.get("/")
    assert page.status_code == 200 and "bertkit serve" in page.text
    assert full_client.get("/static/app.js").status_code == 200
