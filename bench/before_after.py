"""No speed lost: the same inference workloads on an earlier commit and on this tree, one run.

    python bench/before_after.py [--ref 3e7e559] [--repeats 3] [--n 1000] [--qa 100] [--threads 2]

The earlier commit (default: the last one before round 3's one-core redesign) is
unpacked with ``git archive`` into a temporary directory (nothing in the checkout
changes). Each measurement is a fresh subprocess with ``PYTHONPATH`` set to one of the
two trees and its own ``BERTKIT_CACHE`` (ONNX exports and the runtime probe are built in
a warm-up run first, then timed from the cache). Runs alternate before / after
``--repeats`` times, so drift of the machine hits both sides alike; the table reports the
median rate of each side, after / before, and the agreement of the outputs (cosine of
embeddings, max difference of class probabilities, QA answers that are the same text).

Workloads: ``Embedder`` on ``--n`` SST-2 dev sentences (torch fp32, ONNX fp32, and
``auto``), ``Classifier`` (the shipped sentiment model) on the same sentences (torch
fp32 and ``auto``), ``Reader`` (the shipped QA model) on ``--qa`` dev-v1.1 questions
(torch fp32 and ``auto``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, ROOT, machine, write_section  # noqa: E402

# (name, task, backend, dtype)
CONFIGS = [
    ("embed torch fp32", "embed", "torch", "fp32"),
    ("embed onnx fp32", "embed", "onnx", "fp32"),
    ("embed auto", "embed", "auto", "auto"),
    ("classify torch fp32", "classify", "torch", "fp32"),
    ("classify auto", "classify", "auto", "auto"),
    ("qa torch fp32", "qa", "torch", "fp32"),
    ("qa auto", "qa", "auto", "auto"),
]


def sentences(n: int) -> list[str]:
    rows = (DATA / "sst2" / "dev-sentences.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [r.split("\t")[0] for r in rows[:n]]


def questions(n: int) -> tuple[list[str], list[str]]:
    data = json.loads((DATA / "squad" / "dev-v1.1.json").read_text(encoding="utf-8"))
    qs, cs = [], []
    for article in data["data"]:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                qs.append(qa["question"])
                cs.append(p["context"])
    return qs[:n], cs[:n]


def worker(task: str, backend: str, dtype: str, n: int, qa: int, out: str) -> None:
    """Load once, warm up, time one pass; write rate and outputs to ``out`` (.npz)."""
    import bertkit

    if task == "embed":
        model = bertkit.Embedder.load(None, backend=backend, dtype=dtype)
        items = sentences(n)
        run = lambda: np.asarray(model.embed(items), dtype=np.float32)  # noqa: E731
    elif task == "classify":
        model = bertkit.Classifier.load(None, backend=backend, dtype=dtype)
        items = sentences(n)
        run = lambda: np.asarray(model.predict_proba(items), dtype=np.float32)  # noqa: E731
    else:
        model = bertkit.Reader.load(None, backend=backend, dtype=dtype)
        items, contexts = questions(qa)
        run = lambda: np.asarray([(a[0].text if isinstance(a, list) else a.text) or "" for a in model.answer(items, contexts)])  # noqa: E731
    run()  # warm-up (and, on a cold cache, the export / probe)
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    np.savez(out, result=result, rate=np.float64(len(items) / seconds))


def measure(tree: Path, cache: Path, cfg: tuple, args) -> tuple[float, np.ndarray]:
    _, task, backend, dtype = cfg
    env = {**os.environ, "PYTHONPATH": str(tree), "BERTKIT_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.npz"
        cmd = [sys.executable, __file__, "--worker", task, backend, dtype, str(args.n), str(args.qa), str(out)]
        proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{tree.name} {cfg[0]} failed:\n{proc.stderr[-3000:]}")
        data = np.load(out)
        return float(data["rate"]), data["result"]


def agreement(task: str, a: np.ndarray, b: np.ndarray) -> str:
    if task == "embed":  # the redesign normalises the packaged MiniLM by default: compare directions
        an = a / np.linalg.norm(a, axis=1, keepdims=True)
        bn = b / np.linalg.norm(b, axis=1, keepdims=True)
        return f"min cosine {float((an * bn).sum(1).min()):.6f}"
    if task == "classify":
        return f"max |dp| {float(np.abs(a - b).max()):.1e}"
    return f"same answer {100 * float(np.mean(a == b)):.1f}%"


def unpack(ref: str, into: Path) -> Path:
    tree = into / f"before-{ref}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "bertkit"], capture_output=True, check=True).stdout
    tar = into / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(tree, filter="data")
    return tree


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="3e7e559", help="the earlier commit (default: before round 3)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--qa", type=int, default=100)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--configs", default=None, help="comma-separated names (default: all)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    chosen = [c for c in CONFIGS if args.configs is None or c[0] in args.configs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sides = {"before": (unpack(args.ref, tmp), tmp / "cache-before"), "after": (ROOT, tmp / "cache-after")}
        rows = []
        for cfg in chosen:
            rates: dict[str, list[float]] = {"before": [], "after": []}
            outputs = {}
            for side, (tree, cache) in sides.items():  # warm the cache (export, probe), untimed
                measure(tree, cache, cfg, args)
            for _ in range(args.repeats):
                for side, (tree, cache) in sides.items():
                    rate, outputs[side] = measure(tree, cache, cfg, args)
                    rates[side].append(rate)
            b, a = statistics.median(rates["before"]), statistics.median(rates["after"])
            rows.append((cfg[0], b, a, a / b, agreement(cfg[1], outputs["before"], outputs["after"]),
                         f"{min(rates['before']):.1f}-{max(rates['before']):.1f}", f"{min(rates['after']):.1f}-{max(rates['after']):.1f}"))
            print(f"{cfg[0]}: before {b:.1f}/s, after {a:.1f}/s, x{a / b:.3f} ({rows[-1][4]})", flush=True)
    unit = {"embed": "sentences/s", "classify": "sentences/s", "qa": "questions/s"}
    lines = [f"`python bench/before_after.py --ref {args.ref} --repeats {args.repeats} --n {args.n} --qa {args.qa}"
             + (f" --threads {args.threads}" if args.threads else "") + f"` on {machine()}, load average before the run "
             f"{os.getloadavg()[0]:.1f}. Median of {args.repeats} alternating runs per side (range in brackets).", "",
             "| workload | before (" + args.ref + ") | after (this tree) | after / before | outputs |", "|---|---|---|---|---|"]
    for name, b, a, r, agree, rb, ra in rows:
        u = unit[name.split()[0]]
        lines.append(f"| {name} | {b:.1f} {u} [{rb}] | {a:.1f} [{ra}] | {r:.3f} | {agree} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("Before and after the one-core redesign", text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
    else:
        main()
