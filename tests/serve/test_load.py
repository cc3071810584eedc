"""Concurrency: a bounded load test, 429 with a tiny queue, and draining on a signal."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import numpy as np
import pytest
from serve_helpers import running

from bertkit.serve import ServeOptions

CLIENTS, REQUESTS = 32, 20


@pytest.fixture(scope="module")
def tiny_embedder(tiny_bert, serve_threads):
    import bertkit

    return bertkit.Embedder(tiny_bert, pooling="mean", backend="torch", dtype="fp32")


def _texts(client: int, request: int) -> list[str]:
    """Each request its own texts, of different lengths, so a mixed-up reply cannot match."""
    return [f"client {client} request {request} item {k} " + "word " * ((client + request + k) % 7) for k in range(1 + (client + request) % 3)]


@pytest.mark.slow  # ~10 s on the shared 2-core machine
def test_load_32_clients_x_20_requests(tiny_bert, tiny_embedder):
    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False)
    all_texts = sorted({t for c in range(CLIENTS) for r in range(REQUESTS) for t in _texts(c, r)})
    expected = dict(zip(all_texts, tiny_embedder.embed(all_texts)))
    with running(options) as (url, _, _):

        async def client(c: int, http: httpx.AsyncClient) -> list[tuple[int, list[str], object, int]]:
            out = []
            for r in range(REQUESTS):  # a fixed number of requests: the test stops by itself
                texts = _texts(c, r)
                resp = await http.post("/embed", json={"inputs": texts, "normalize": False})
                out.append((resp.status_code, texts, resp.json(), int(resp.headers.get("x-batch-size", 0))))
            return out

        async def main():
            limits = httpx.Limits(max_connections=CLIENTS)
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
                return await asyncio.gather(*(client(c, http) for c in range(CLIENTS)))

        started = time.perf_counter()
        results = [x for per_client in asyncio.run(asyncio.wait_for(main(), 120)) for x in per_client]
        seconds = time.perf_counter() - started
    assert len(results) == CLIENTS * REQUESTS
    assert [s for s, *_ in results if s != 200] == []
    for _, texts, body, _ in results:
        np.testing.assert_allclose(np.array(body), np.stack([expected[t] for t in texts]), atol=1e-5)
    merged = max(b for *_, b in results)
    assert merged > 3, f"no request was merged with another (largest batch {merged} texts in {seconds:.1f} s)"


def _blocked(app, name: str = "run_embed"):
    """Make the embed model wait for an event, so requests pile up deterministically."""
    model = app.state.bertkit.models.embed
    original = getattr(model, name)
    gate, entered = threading.Event(), threading.Event()

    def slow(option, items):
        entered.set()
        gate.wait(30)
        return original(option, items)

    setattr(model, name, slow)
    return gate, entered


def test_429_with_a_tiny_queue(tiny_bert, serve_threads):
    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False, max_queue=1)
    with running(options) as (url, app, _):
        gate, entered = _blocked(app)
        codes: list[int] = []

        def post():
            codes.append(httpx.post(url + "/embed", json={"inputs": ["x"]}, timeout=30).status_code)

        first = threading.Thread(target=post)
        first.start()
        assert entered.wait(10)  # the worker holds request 1
        second = threading.Thread(target=post)
        second.start()
        while app.state.bertkit.batchers["embed"].depth < 1:  # request 2 waits in the queue
            time.sleep(0.01)
        r = httpx.post(url + "/embed", json={"inputs": ["y"]}, timeout=30)
        assert r.status_code == 429 and r.json()["error_type"] == "Overloaded" and r.headers["retry-after"] == "1"
        gate.set()
        first.join(30)
        second.join(30)
        assert codes == [200, 200]
        metrics = httpx.get(url + "/metrics").text
        assert 'bertkit_requests_total{route="/embed",status="429"} 1.0' in metrics


def test_429_beyond_max_concurrent_requests(tiny_bert, serve_threads):
    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False, max_concurrent_requests=1)
    with running(options) as (url, app, _):
        gate, entered = _blocked(app)
        first = threading.Thread(target=lambda: httpx.post(url + "/embed", json={"inputs": ["x"]}, timeout=30))
        first.start()
        assert entered.wait(10)
        r = httpx.post(url + "/embed", json={"inputs": ["y"]}, timeout=30)
        assert r.status_code == 429 and "concurrent" in r.json()["error"]
        assert httpx.get(url + "/health").status_code == 200  # health is never refused for load
        gate.set()
        first.join(30)


def test_signal_drains_in_flight_requests(tiny_bert, serve_threads):
    options = ServeOptions(embed=str(tiny_bert), serve_classify=False, serve_qa=False)
    with running(options) as (url, app, server):
        gate, entered = _blocked(app)
        result: dict = {}

        def in_flight():
            r = httpx.post(url + "/embed", json={"inputs": ["still answered"]}, timeout=30)
            result["status"], result["body"] = r.status_code, r.json()

        t = threading.Thread(target=in_flight)
        t.start()
        assert entered.wait(10)
        server.handle_exit(signal.SIGTERM, None)  # what uvicorn calls on SIGTERM
        assert app.state.bertkit.draining
        try:  # new work is refused: 503 on a live connection, or the socket is already closed
            r = httpx.get(url + "/health", timeout=5)
            assert r.status_code == 503 and "draining" in r.json()["error"]
        except httpx.TransportError:
            pass
        gate.set()
        t.join(30)
        assert result["status"] == 200 and len(result["body"]) == 1
        deadline = time.time() + 30
        while server.started and not server.should_exit and time.time() < deadline:
            time.sleep(0.05)
        assert server.should_exit
