"""``POST /tag``: a tiny tagger trained here, served for real; equal to the library, errors, 404 without --tag."""

from __future__ import annotations

import httpx
import pytest
from serve_helpers import running

from bertkit.serve import ServeOptions
from bertkit.tagging import load_tagger

TEXTS = ["i met bob in rome .", "i met carol smith in new york .", "Alice  went to Paris!"]


@pytest.fixture(scope="module")
def tag_client(tagger_dir):
    options = ServeOptions(tag=str(tagger_dir), serve_embed=False, serve_classify=False, serve_qa=False,
                           max_client_batch_size=4, device="cpu")
    with running(options) as (url, _, _):
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client


def _same(served: list[dict], library) -> None:
    assert [{k: e[k] for k in ("type", "text", "start", "end")} for e in served] == \
        [{"type": e.type, "text": e.text, "start": e.start, "end": e.end} for e in library]
    assert [e["score"] for e in served] == pytest.approx([e.score for e in library], abs=1e-5)


def test_tag_equals_the_library(tag_client, tagger_dir):
    tagger = load_tagger(tagger_dir, device="cpu")
    expected = tagger.predict(TEXTS)
    assert any(expected), "the tiny tagger should find some entity"
    r = tag_client.post("/tag", json={"inputs": TEXTS})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body) == len(TEXTS)
    for text, served, lib in zip(TEXTS, body, expected):
        _same(served, lib)
        for e in served:
            assert text[e["start"] : e["end"]] == e["text"]
    single = tag_client.post("/tag", json={"inputs": TEXTS[1]})
    assert single.status_code == 200
    _same(single.json(), expected[1])  # one input: one list of entities, not a batch of one
    assert "x-inference-time" in single.headers and int(single.headers["x-compute-tokens"]) > 0


def test_tag_pre_split_words(tag_client, tagger_dir):
    words = [["i", "met", "carol", "smith", "in", "new", "york", "."], ["bob", "likes", "rome"]]
    r = tag_client.post("/tag", json={"inputs": words})
    assert r.status_code == 200, r.text
    expected = load_tagger(tagger_dir, device="cpu").predict(words)
    for w, served, lib in zip(words, r.json(), expected):
        _same(served, lib)
        joined = " ".join(w)
        for e in served:
            assert joined[e["start"] : e["end"]] == e["text"]


def test_tag_info_and_metrics(tag_client):
    info = tag_client.get("/info").json()
    assert set(info["models"]) == {"tag"}
    tag = info["models"]["tag"]
    assert tag["types"] == ["LOC", "PER"] and tag["runtime"]["backend"] == "torch"
    metrics = tag_client.get("/metrics").text
    assert 'route="/tag"' in metrics


@pytest.mark.parametrize("body, status", [
    ({"inputs": 5}, 422),
    ({"text": "no inputs"}, 422),
    ({"inputs": [["i", "met"], "bob"]}, 422),
    ({"inputs": [[1, 2]]}, 422),
    ({"inputs": ["a", "b", "c", "d", "e"]}, 422),  # over --max-client-batch-size 4
    ({"inputs": []}, 400),
    ({"inputs": "   "}, 400),
    ({"inputs": [["i", ""]]}, 400),
    ({"inputs": [[]]}, 400),
])
def test_tag_bad_input(tag_client, body, status):
    r = tag_client.post("/tag", json=body)
    assert r.status_code == status, r.text
    err = r.json()
    assert set(err) == {"error", "error_type"} and err["error"]


def test_tag_route_without_a_tagger_is_404(full_client):
    r = full_client.post("/tag", json={"inputs": "i met bob"})
    assert r.status_code == 404
    assert "loaded: embed, classify, qa" in r.json()["error"] and "--tag" in r.json()["error"]


def test_serve_tag_cli_errors(capsys, tmp_path):
    from bertkit.cli.app import main

    assert main(["serve", "--tag", str(tmp_path / "missing")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["serve", "--tag", str(tmp_path / "empty"), "--port", "0"]) == 2  # not a tagger directory
    err = capsys.readouterr().err.strip().splitlines()
    assert "missing" in err[0] and "bertkit tag train" in err[0]
    assert err[-1].startswith("bertkit: error: the models failed to load")


def test_tag_odd_texts_never_500(tag_client):
    long_text = " ".join(["i met bob in rome ."] * 40)  # > max_length 32 tokens: windows, no word dropped
    odd = ["\u200b", "\u200bbob", "😀 bob 😀", "\x00 rome", long_text]
    results = []
    for chunk in (odd[:3], odd[3:]):  # the client batch limit is 4
        r = tag_client.post("/tag", json={"inputs": chunk})
        assert r.status_code == 200, r.text
        results += r.json()
    for text, ents in zip(odd, results):
        for e in ents:
            assert text[e["start"] : e["end"]] == e["text"]


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_server_wide_onnx_int8_runs_the_tagger_on_onnx_fp32(tagger_dir, tmp_path, monkeypatch):
    from bertkit.serve.models import TagModel

    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))
    model = TagModel(str(tagger_dir), "onnx", "int8", "auto")
    assert model.info()["runtime"]["backend"] == "onnx" and model.info()["runtime"]["dtype"] == "fp32"
    expected = load_tagger(tagger_dir, backend="torch", dtype="fp32", device="cpu").predict(TEXTS)
    for served, lib in zip(model.run_tag("texts", TEXTS), expected):
        assert [(e["type"], e["start"], e["end"]) for e in served] == [(e.type, e.start, e.end) for e in lib]
