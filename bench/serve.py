"""HTTP serving: bertkit serve vs the hand-written FastAPI + sentence-transformers server
(and infinity-emb when it is installed), same model and pooling, one run.

    python bench/serve.py [--seconds 6] [--concurrency 1,8,32] [--cpus 0]
                          [--infinity /tmp/venv/bin/infinity_emb]

Each server runs in its own process pinned to ``--cpus`` (taskset) with as many torch
threads (OMP_NUM_THREADS), so every server gets the same cores;
the load generator (asyncio + httpx, this process) keeps ``c`` requests in flight, one
text per request, for ``--seconds`` per cell: short texts (SST-2 dev-sentences.tsv) and
paragraphs (SQuAD dev-v1.1 contexts). Reported: requests/s, texts/s, latency p50/p95/p99,
errors; plus a direct library call (``Embedder.embed([text])``, same threads) for the
concurrency-1 latency goal. Every server's vectors are checked against the library's.
Writes its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, ROOT, machine, write_section  # noqa: E402

from bertkit import default_model_dir  # noqa: E402


@dataclass
class Peer:
    name: str
    command: list[str]
    route: str
    openai: bool = False  # OpenAI-shaped request and response (infinity)

    def body(self, texts: list[str]) -> dict:
        return {"input": texts, "model": "minilm"} if self.openai else {"inputs": texts, "normalize": True}

    def vectors(self, payload) -> np.ndarray:
        return np.array([d["embedding"] for d in payload["data"]] if self.openai else payload)


def load_texts() -> dict[str, list[str]]:
    with open(DATA / "sst2" / "dev-sentences.tsv", encoding="utf-8") as fh:
        short = [r["sentence"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    squad = json.loads((DATA / "squad" / "dev-v1.1.json").read_text())
    paragraphs = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
    return {"short": short, "paragraph": paragraphs}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(peer: Peer, port: int, cpus: str) -> subprocess.Popen:
    threads = len(cpus.split(","))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"}
    env = {k: v for k, v in env.items() if v != ""}
    cmd = ["taskset", "-c", cpus] + [c.replace("{port}", str(port)) for c in peer.command]
    log = tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log", delete=False)  # a pipe could fill and stall it
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{peer.name} exited: {Path(log.name).read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{peer.name} did not become ready")


async def load(url: str, peer: Peer, texts: list[str], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}  # HTTP status or transport error -> count
    deadline = time.perf_counter() + seconds

    async def worker(w: int, http: httpx.AsyncClient) -> None:
        i = w
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                r = await http.post(peer.route, json=peer.body([texts[i % len(texts)]]))
                ok = r.status_code == 200
            except httpx.HTTPError as exc:
                ok, status = False, type(exc).__name__
            else:
                status = str(r.status_code)
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors[status] = errors.get(status, 0) + 1
            i += concurrency

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(w, http) for w in range(concurrency)))
        wall = time.perf_counter() - started
    lat = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {"requests_s": len(latencies) / wall, "texts_s": len(latencies) / wall, "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)), "p99": float(np.percentile(lat, 99)), "errors": sum(errors.values()),
            "error_kinds": errors, "n": len(latencies)}


def direct_p50(texts: dict[str, list[str]], threads: int, n: int = 60) -> dict[str, float]:
    """Latency of one library call per text (the concurrency-1 reference)."""
    import torch

    from bertkit import Embedder

    torch.set_num_threads(threads)
    emb = Embedder(pooling="mean", normalize=True, backend="torch", dtype="fp32", device="cpu")
    out = {}
    for kind, items in texts.items():
        emb.embed(items[:4])
        lat = []
        for t in items[:n]:
            t0 = time.perf_counter()
            emb.embed([t])
            lat.append(time.perf_counter() - t0)
        out[kind] = float(np.median(lat) * 1000)
    return out


def check_vectors(url: str, peer: Peer, texts: list[str], reference: np.ndarray) -> float:
    r = httpx.post(url + peer.route, json=peer.body(texts), timeout=120)
    r.raise_for_status()
    v = peer.vectors(r.json())
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    return float(np.min(np.sum(v * reference, axis=1)))


def peers(args) -> list[Peer]:
    model = str(default_model_dir())
    bertkit = [sys.executable, "-m", "bertkit", "serve", "--embed", "default", "--pooling", "mean", "--port", "{port}"]
    out = [
        Peer("bertkit serve (torch fp32)", bertkit + ["--backend", "torch", "--dtype", "fp32"], "/embed"),
        Peer("bertkit serve (auto)", bertkit, "/embed"),
        Peer("hand-written FastAPI + sentence-transformers", [sys.executable, str(ROOT / "bench" / "serve_handwritten.py"), model, "{port}"], "/embed"),
    ]
    if args.servers:
        out = [p for p in out if any(k in p.name for k in args.servers.split(","))]
    if args.infinity:
        out.append(Peer("infinity-emb", [args.infinity, "v2", "--model-id", model, "--host", "127.0.0.1", "--port", "{port}", "--engine", "torch",
                                         "--device", "cpu", "--no-bettertransformer", "--url-prefix", ""], "/embeddings", openai=True))
    return out


def run(args) -> tuple[list[dict], dict, dict]:
    import bertkit

    texts = load_texts()
    reference = bertkit.Embedder(pooling="mean", normalize=True, backend="torch", dtype="fp32").embed(texts["short"][:8])
    direct = direct_p50(texts, len(args.cpus.split(",")))
    rows, agree = [], {}
    for peer in peers(args):
        port = free_port()
        try:
            proc = start(peer, port, args.cpus)
        except RuntimeError as exc:
            print(f"skipping {peer.name}: {str(exc)[-300:]}", file=sys.stderr)
            continue
        url = f"http://127.0.0.1:{port}"
        try:
            agree[peer.name] = check_vectors(url, peer, texts["short"][:8], reference)
            for kind in ("short", "paragraph"):
                asyncio.run(load(url, peer, texts[kind], 4, 1.0))  # warm-up
                for c in args.concurrency:
                    r = asyncio.run(load(url, peer, texts[kind], c, args.seconds))
                    rows.append({"server": peer.name, "texts": kind, "c": c, **r})
                    print(json.dumps(rows[-1]), flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return rows, direct, agree


def report(rows: list[dict], direct: dict, agree: dict, args, infinity_note: str) -> str:
    command = "python bench/serve.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        "## Serving (bench/serve.py)", "",
        f"`{command.strip()}` on {machine()}; each server process pinned to CPU(s) {args.cpus} (taskset) with as many torch threads; "
        f"{args.seconds:g} s per cell, one text per request, load generator (asyncio + httpx) in another process on the same machine. "
        f"Load average when the report was written: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[2]:.1f} (15 min); "
        "above ~0.5 other jobs shared the cores: read ratios, not absolute numbers.", "",
        "| server | texts | concurrency | requests/s | texts/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['server']} | {r['texts']} | {r['c']} | {r['requests_s']:.1f} | {r['texts_s']:.1f} | "
                     f"{r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {_errors(r)} |")
    lines += ["", f"Direct library call in the bench process (`Embedder.embed([text])`, torch fp32, as many threads), p50: "
              + ", ".join(f"{k} {v:.1f} ms" for k, v in direct.items()) + ".",
              "Vectors agree with the library (min cosine over 8 SST-2 sentences): "
              + ", ".join(f"{k} {v:.5f}" for k, v in agree.items()) + ".", ""]
    lines += goals(rows, direct)
    lines += ["", infinity_note]
    return "\n".join(lines)


def _errors(row: dict) -> str:
    kinds = ", ".join(f"{k}: {v}" for k, v in row.get("error_kinds", {}).items())
    return f"{row['errors']} ({kinds})" if row["errors"] else "0"


def goals(rows: list[dict], direct: dict) -> list[str]:
    by = {(r["server"], r["texts"], r["c"]): r for r in rows}
    peer = "hand-written FastAPI + sentence-transformers"
    out = ["Goals (issue 11):", ""]
    for name in sorted({r["server"] for r in rows if r["server"].startswith("bertkit")}):
        for kind in ("short", "paragraph"):
            ours, theirs, one = by.get((name, kind, 32)), by.get((peer, kind, 32)), by.get((name, kind, 1))
            if ours and theirs:
                ratio = ours["requests_s"] / max(theirs["requests_s"], 1e-9)
                out.append(f"- {name}, {kind}, concurrency 32: {ratio:.2f}x the hand-written server's throughput "
                           f"(goal >= 3x: {'met' if ratio >= 3 else 'missed'}); p99 {ours['p99']:.0f} vs {theirs['p99']:.0f} ms "
                           f"(goal below: {'met' if ours['p99'] < theirs['p99'] else 'missed'}).")
            if one and kind in direct and "fp32" in name:  # the direct call runs torch fp32 too
                over = one["p50"] / direct[kind] - 1
                out.append(f"- {name}, {kind}, concurrency 1: p50 {one['p50']:.1f} ms vs direct call {direct[kind]:.1f} ms "
                           f"({over:+.0%}; goal within +20%: {'met' if over <= 0.2 else 'missed'}).")
    errors = sum(r["errors"] for r in rows)
    out.append(f"- Errors over all cells: {errors} (goal 0: {'met' if errors == 0 else 'missed'}).")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    ap.add_argument("--cpus", default="0", help="CPU list every server is pinned to (taskset -c), e.g. 0 or 0,1")
    ap.add_argument("--infinity", default=None, help="infinity_emb executable (a throwaway venv); left out when not given")
    ap.add_argument("--infinity-note", default="", help="what happened to infinity-emb, for the report")
    ap.add_argument("--servers", default=None, help="only the servers whose names contain one of these words (comma-separated)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows, direct, agree = run(args)
    note = args.infinity_note or ("infinity-emb: run above." if args.infinity else "infinity-emb: not run (not installed).")
    text = report(rows, direct, agree, args, note)
    print(text)
    if not args.no_write:
        write_section("serve", text)


if __name__ == "__main__":
    main()
