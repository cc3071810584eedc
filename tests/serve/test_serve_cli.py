"""``bertkit serve`` as a user runs it: a subprocess, SIGTERM drains and exits 0; bad options exit 2."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from bertkit.cli.app import main


def _start(args: list[str], env: dict | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bertkit", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})},
    )
    deadline = time.time() + 120
    lines = []
    for line in proc.stdout:  # uvicorn says where it listens
        lines.append(line)
        m = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1)
        if time.time() > deadline:
            break
    proc.kill()
    raise AssertionError("the server did not start:\n" + "".join(lines))


def _in_flight(client: httpx.Client) -> bool:
    """Whether the server is serving a model request now (its Prometheus gauge)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("bertkit_requests_in_flight "):
            return float(line.split()[1]) >= 1
    return False


@pytest.mark.slow
def test_sigterm_finishes_in_flight_requests_and_exits_0(tiny_bert):
    proc, url = _start(["--embed", str(tiny_bert), "--max-batch-tokens", "256"], {"BERTKIT_API_KEY": "k", "OMP_NUM_THREADS": "1"})
    try:
        auth = {"Authorization": "Bearer k"}
        with httpx.Client(base_url=url, timeout=60, headers=auth) as c:
            while c.get("/health").status_code != 200:
                time.sleep(0.1)
            assert c.get("/info").json()["limits"]["api_key"] is True
            assert httpx.post(url + "/embed", json={"inputs": "x"}).status_code == 401  # the key came from the environment
        texts = [" ".join(["word"] * 60)] * 64
        results: list = []

        def client():
            with httpx.Client(base_url=url, timeout=60, headers=auth) as c:
                for _ in range(40):
                    try:
                        r = c.post("/embed", json={"inputs": texts})
                    except httpx.TransportError:
                        return  # the server closed: no new connections after the signal
                    results.append((r.status_code, len(r.json()) if r.status_code == 200 else 0, time.time()))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        while not results:
            time.sleep(0.02)
        with httpx.Client(base_url=url, timeout=60, headers=auth) as c:  # signal while a request is being served
            deadline = time.time() + 30
            while not _in_flight(c) and time.time() < deadline:
                time.sleep(0.005)
        signalled = time.time()
        proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(60)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert results and all(code in (200, 503) for code, _, _ in results), results
        assert all(n == 64 for code, n, _ in results if code == 200)
        assert any(code == 200 and t > signalled for code, _, t in results), "no request in flight was finished"
        assert "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_bad_options_exit_2_with_one_line(capsys, tmp_path):
    assert main(["serve", "--embed", str(tmp_path / "missing")]) == 2
    assert main(["serve", "--pooling", "avg"]) == 2
    assert main(["serve", "--payload-limit", "lots"]) == 2
    assert main(["serve", "--backend", "tpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("bertkit: error:") for line in err)
    assert "missing" in err[0] and "avg" in err[1] and "lots" in err[2] and "tpu" in err[3]


def test_model_that_fails_to_load_stops_the_server_with_exit_2(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    assert main(["serve", "--embed", str(tmp_path / "empty"), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("bertkit: error: the models failed to load") and "config.json" in err[-1]
