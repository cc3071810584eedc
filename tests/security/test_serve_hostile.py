"""``bertkit serve`` against hostile or unlucky clients, over real sockets: slow bodies,
a heavy request beside a small one, per-request limits, unclean text and numbers,
malformed JSON, HEAD, foreign Host headers, a port in use. Each case is bounded in time."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
from serve_helpers import running  # noqa: E402

from bertkit.serve import ServeOptions  # noqa: E402
from bertkit.serve.schemas import AnswerRequest  # noqa: E402

SLOTS = 3


@pytest.fixture(scope="module")
def tiny_server(tiny_bert):
    """The tiny random encoder; few slots, a short body timeout, small per-request limits."""
    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False, max_concurrent_requests=SLOTS,
                           body_timeout=2.0, max_input_tokens=400, max_embed_all_tokens=50, max_batch_tokens=32,
                           max_client_batch_size=64, device="cpu")
    with running(options) as (url, app, _):
        with httpx.Client(base_url=url, timeout=30) as client:
            yield url, app, client


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _slow_client(port: int) -> socket.socket:
    """A client that sends its headers and one byte of a 100-byte body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(b"POST /embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    return sock


def _read_answer(sock: socket.socket) -> str:
    """The whole response (the server closes the connection after a 408)."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data.decode("latin-1")


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_slow_bodies_hold_no_slot_and_time_out_408(tiny_server):
    url, _, client = tiny_server
    slow = [_slow_client(_port(url)) for _ in range(SLOTS + 1)]  # more slow clients than slots
    try:
        time.sleep(0.3)
        r = client.post("/embed", json={"inputs": "a normal request"})
        assert r.status_code == 200, r.text  # before: 429, every slot held by a slow body
        started = time.monotonic()
        for sock in slow:
            answer = _read_answer(sock)
            assert answer.startswith("HTTP/1.1 408"), answer
            assert "--body-timeout" in answer and '"error_type": "Timeout"' in answer
        assert time.monotonic() - started < 5  # the 2 s timeout, not the client's pace
    finally:
        for sock in slow:
            sock.close()


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_a_heavy_request_does_not_starve_a_small_one(tiny_server):
    _, app, client = tiny_server
    model = app.state.bertkit.models.embed
    original = model.run_embed
    calls: list[int] = []

    def slow_engine(truncate, texts):  # 50 ms per text: the heavy request is over 3 s of work
        calls.append(len(texts))
        time.sleep(0.05 * len(texts))
        return original(truncate, texts)

    model.run_embed = slow_engine
    heavy_done: list[float] = []
    try:
        def heavy():
            heavy_done.append(time.monotonic())
            r = client.post("/embed", json={"inputs": [f"text {i}" for i in range(64)]})  # 64 x 4 tokens: 256 < 400
            assert r.status_code == 200 and len(r.json()) == 64
            heavy_done.append(time.monotonic())

        thread = threading.Thread(target=heavy)
        thread.start()
        deadline = time.monotonic() + 20
        while not calls and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert calls, "the heavy request never reached the engine"
        sent = time.monotonic()
        r = client.post("/embed", json={"inputs": "hi"})
        small_done = time.monotonic()
        thread.join(30)
    finally:
        model.run_embed = original
    assert r.status_code == 200 and len(heavy_done) == 2
    waited, heavy_took = small_done - sent, heavy_done[1] - heavy_done[0]
    assert heavy_done[1] > small_done  # it ran between the heavy request's slices (before: after all of it)
    assert waited < 0.5 * heavy_took, f"the one-word request waited {waited:.2f} s of the heavy one's {heavy_took:.2f} s"
    assert max(calls) < 64  # the heavy request was split into token-budget slices


def test_per_request_token_limit_and_embed_all_cap_413(tiny_server):
    _, _, client = tiny_server
    r = client.post("/embed", json={"inputs": ["word " * 100] * 8})  # ~800 tokens > 400
    assert r.status_code == 413 and "--max-input-tokens" in r.json()["error"], r.text
    r = client.post("/v1/embeddings", json={"input": ["word " * 100] * 8})
    assert r.status_code == 413 and "--max-input-tokens" in r.json()["error"]["message"]
    r = client.post("/embed_all", json={"inputs": ["word " * 30] * 3})  # ~96 token vectors > 50
    assert r.status_code == 413 and "--max-embed-all-tokens" in r.json()["error"], r.text
    assert client.post("/embed_all", json={"inputs": "a few words"}).status_code == 200


def _raw(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def test_lone_surrogates_are_422_on_every_route(tiny_server):
    _, app, client = tiny_server
    posts = [p for p, ops in app.openapi()["paths"].items() if "post" in ops]
    assert {"/", "/embed", "/predict", "/answer", "/tag", "/v1/embeddings"} <= set(posts)
    body = b'{"inputs": "abc \\ud800 def", "input": "x", "question": "q", "context": "c", "query": "q", "texts": ["t"]}'
    for path in posts:
        r = _raw(client, path, body)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert "U+D800" in r.text and "inputs" in r.text and "Traceback" not in r.text
    r = _raw(client, "/embed", b'{"inputs": ["fine", "bad \\udfff"]}')
    assert r.status_code == 422 and r.json()["error"].startswith("inputs[1]:")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422(tiny_server, number):
    _, _, client = tiny_server
    r = _raw(client, "/answer", f'{{"question": "q?", "context": "c.", "null_threshold": {number}}}'.encode())
    assert r.status_code == 422 and r.json()["error"].startswith("null_threshold:") and "finite" in r.text, r.text
    r = _raw(client, "/embed", f'{{"inputs": "a", "normalize": true, "extra": [1, {number}]}}'.encode())
    assert r.status_code == 422 and "extra[1]" in r.text
    with pytest.raises(ValueError, match="finite"):  # the schema refuses it too, for Python callers
        AnswerRequest(question="q", context="c", null_threshold=float("nan"))


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"inputs": ["a", {"b": ', b'{"inputs": "caf\xe9"}', b'{"inputs": "\xed\xa0\x80"}'],
                         ids=["deep", "truncated", "latin-1", "utf-8-surrogate"])
def test_malformed_json_is_422_not_400(tiny_server, body):
    _, _, client = tiny_server
    r = _raw(client, "/embed", body[:900_000])
    assert r.status_code == 422, r.text
    assert r.json()["error_type"] == "Validation" and r.json()["error"].startswith("malformed JSON")


def test_head_answers_wherever_get_does(tiny_server):
    _, _, client = tiny_server
    for path in ("/health", "/info", "/metrics", "/", "/docs", "/openapi.json", "/static/app.js"):
        get, head = client.get(path), client.head(path)
        assert get.status_code == 200 and head.status_code == 200, (path, head.status_code)
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
        if path != "/metrics":  # its counters move between the two requests
            assert head.headers["content-length"] == get.headers["content-length"]


def test_foreign_host_header_is_421(tiny_server):
    url, _, client = tiny_server
    r = client.get("/info", headers={"Host": "attacker.example"})
    assert r.status_code == 421 and "--allowed-hosts" in r.json()["error"]
    assert client.post("/embed", json={"inputs": "x"}, headers={"Host": "attacker.example:80"}).status_code == 421
    for host in ("localhost", f"localhost:{_port(url)}", "127.0.0.1", "[::1]:8080"):
        assert client.get("/health", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_option(tiny_bert):
    from bertkit.serve.guards import host_allowed

    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False, allowed_hosts=("api.example.com", ".corp.example"))
    assert host_allowed("api.example.com:443", options.hosts, options.host)
    assert host_allowed("a.corp.example", options.hosts, options.host) and not host_allowed("evilcorp.example", options.hosts, options.host)
    assert not host_allowed("10.0.0.5:8080", options.hosts, "127.0.0.1")
    assert host_allowed("10.0.0.5:8080", options.hosts, "0.0.0.0")  # bound everywhere: any address, no other name
    assert not host_allowed("rebind.example", options.hosts, "0.0.0.0")
    assert host_allowed("anything", ServeOptions(allowed_hosts="*").hosts, "127.0.0.1")


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_api_key_guards_the_root_route(tiny_bert):
    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False, api_key="k", device="cpu")
    with running(options) as (url, _, _):
        assert httpx.post(url + "/", json={"inputs": "x"}).status_code == 401
        assert httpx.get(url + "/").status_code == 200  # the page stays public
        r = httpx.post(url + "/", json={"inputs": "x"}, headers={"Authorization": "Bearer k"})
        assert r.status_code == 200 and len(r.json()) == 1


def test_port_in_use_is_one_error_line_exit_2(capsys):
    from bertkit.cli.app import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2  # refused before any model loads
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bertkit: error:") and str(port) in lines[0] and "in use" in lines[0], captured.err
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.slow
def test_port_in_use_subprocess(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "bertkit", "serve", "--port", str(port)], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bertkit: error:") and "in use" in lines[0], proc.stderr
