"""The ecosystem's own clients, unchanged, against a real server: huggingface_hub's
InferenceClient (TEI's root route) and the OpenAI SDK (/v1/embeddings)."""

from __future__ import annotations

import numpy as np
import pytest

from bertkit.serve.root import RootError, dispatch

TEXT = "a gorgeous, witty, seductive movie"


def test_inference_client_feature_extraction_is_embed(full_server, full_client):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    client = huggingface_hub.InferenceClient(base_url=full_server[0], api_key="unused")
    vector = client.feature_extraction(TEXT)
    expected = np.array(full_client.post("/embed", json={"inputs": TEXT}).json(), dtype=np.float32)
    assert vector.shape == expected.shape == (1, 384)
    np.testing.assert_allclose(vector, expected, atol=1e-6)
    batch = client.feature_extraction(["one", "two"], normalize=False)
    raw = np.array(full_client.post("/embed", json={"inputs": ["one", "two"], "normalize": False}).json(), dtype=np.float32)
    np.testing.assert_allclose(batch, raw, atol=1e-6)


def test_inference_client_text_classification_is_predict(full_server, full_client):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    client = huggingface_hub.InferenceClient(base_url=full_server[0], api_key="unused")
    out = client.text_classification(TEXT)
    expected = full_client.post("/predict", json={"inputs": TEXT}).json()
    assert [(o.label, round(o.score, 6)) for o in out] == [(e["label"], round(e["score"], 6)) for e in expected]
    assert out[0].label == "positive" and len(out) == 2
    top = client.text_classification(TEXT, top_k=1)
    assert [o.label for o in top] == ["positive"]


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_openai_sdk_embeddings(full_server, full_client):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=full_server[0] + "/v1", api_key="unused", max_retries=0)
    out = client.embeddings.create(model="all-MiniLM-L6-v2", input=[TEXT, "a dull mess"])  # the SDK asks for base64
    expected = np.array(full_client.post("/embed", json={"inputs": [TEXT, "a dull mess"]}).json(), dtype=np.float32)
    got = np.array([d.embedding for d in out.data], dtype=np.float32)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert out.usage.prompt_tokens > 0 and [d.index for d in out.data] == [0, 1]
    floats = client.embeddings.create(model="x", input=TEXT, encoding_format="float")
    np.testing.assert_allclose(floats.data[0].embedding, expected[0], atol=1e-6)


def test_root_route_dispatches_as_tei():
    routes = frozenset({"/embed", "/predict", "/rerank"})
    assert dispatch({"inputs": "x"}, ["embed"], routes)[0] == "/embed"
    assert dispatch({"inputs": "x"}, ["classify"], routes)[0] == "/predict"  # a classifier's server: TEI's predict
    assert dispatch({"inputs": "x"}, ["embed", "classify", "qa"], routes)[0] == "/embed"
    assert dispatch({"inputs": "x", "raw_scores": True}, ["embed", "classify"], routes)[0] == "/predict"
    route, body = dispatch({"inputs": "x", "parameters": {"top_k": 1, "function_to_apply": "none"}}, ["embed", "classify"], routes)
    assert route == "/predict" and body == {"inputs": ["x"], "top_k": 1, "raw_scores": True}
    assert dispatch({"query": "q", "texts": ["a"]}, ["embed"], routes)[0] == "/rerank"
    assert dispatch({"inputs": "x"}, ["tag"], routes)[0] == "/tag"
    for body, loaded, status in (({"inputs": "x"}, ["qa"], 404), ({"query": "q", "texts": []}, ["embed"], 404), (["x"], ["embed"], 422),
                                 ({"inputs": "x", "parameters": {"function_to_apply": "sigmoid"}}, ["classify"], 422)):
        with pytest.raises(RootError) as err:
            dispatch(body, loaded, frozenset({"/embed"}))
        assert err.value.status == status


def test_root_route_over_http(full_client):
    embed = full_client.post("/", json={"inputs": TEXT})
    assert embed.status_code == 200 and np.allclose(embed.json(), full_client.post("/embed", json={"inputs": TEXT}).json(), atol=1e-6)
    scores = full_client.post("/invocations", json={"inputs": TEXT, "top_k": 1})  # SageMaker's name for it
    assert scores.status_code == 200 and scores.json()[0]["label"] == "positive"
    bad = full_client.post("/", json={"inputs": TEXT, "parameters": {"function_to_apply": "sigmoid"}})
    assert bad.status_code == 422 and "function_to_apply" in bad.json()["error"]
