"""Scaling out: `bertkit embed` in one process vs `--engine ray` with 1 and 2 workers, and
`classify train` with torchrun 2 processes vs 1. Writes its section of BENCHMARKS.md.

    python bench/scale.py [--lines 20000] [--train 2000] [--parts embed,train]

* embed: ``--lines`` generated lines (SST-2 train-clean phrases joined at random, seeded)
  and every distinct SQuAD context of train-v1.1 + train-extra-v1.1, all-MiniLM-L6-v2, mean
  pooling, torch fp32 on the CPU. Each run is the CLI as a user types it (process start,
  model load and, for Ray, starting a local Ray included); peak RSS is sampled every
  0.2 s per process (driver, and each Ray actor ``ray::MapWorker``).
* train: ``classify train`` fine-tuning MiniLM (mean pooling) on a seeded ``--train``-row
  subsample of SST-2 train-clean.tsv, 1 epoch, batch 16 per process, dev on
  dev-sentences.tsv; 1 process vs ``--nproc 2`` (torchrun, gloo), one thread each.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, machine, write_section  # noqa: E402

TORCH_FP32 = ["--backend", "torch", "--dtype", "fp32", "--device", "cpu"]


def sst2(name: str) -> list[str]:
    with open(DATA / "sst2" / name, encoding="utf-8") as fh:
        return [r["sentence"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]


def generated_lines(n: int, seed: int = 0) -> list[str]:
    """``n`` lines of 1-3 SST-2 training phrases each (realistic words and lengths)."""
    phrases = [p for p in sst2("train-clean.tsv") if len(p.split()) >= 3]
    rng = random.Random(seed)
    return [" ".join(rng.choice(phrases) for _ in range(rng.randint(1, 3))) for _ in range(n)]


def squad_contexts() -> list[str]:
    seen: dict[str, None] = {}
    for name in ("train-v1.1.json", "train-extra-v1.1.json"):
        data = json.loads((DATA / "squad" / name).read_text(encoding="utf-8"))
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                seen.setdefault(paragraph["context"].replace("\n", " "), None)
    return list(seen)


class PeakRSS:
    """Peak RSS (MiB) per role, sampled over a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peaks: dict[str, float] = {}
        self.workers: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    rss = p.memory_info().rss / 2**20
                    title = " ".join(p.cmdline()[:1])
                except psutil.Error:
                    continue
                if title.startswith("ray::MapWorker") or title.startswith("ray::_MapWorker"):
                    self.workers[p.pid] = max(self.workers.get(p.pid, 0.0), rss)
                elif p.pid == self.root.pid:
                    self.peaks["driver"] = max(self.peaks.get("driver", 0.0), rss)
            time.sleep(0.2)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"driver": self.peaks.get("driver", 0.0), "worker": max(self.workers.values(), default=0.0), "actors": len(self.workers)}


def timed(cmd: list[str], env: dict) -> tuple[float, dict, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    monitor = PeakRSS(proc.pid)
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    rss = monitor.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return seconds, rss, out + err


def embed_runs(name: str, texts: list[str], tmp: Path, shard_rows: int) -> list[dict]:
    slug = name.split()[0].lower()
    src = tmp / f"{slug}.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    base = [sys.executable, "-m", "bertkit", "embed", str(src)]
    runs = [
        ("single process, 1 thread", base + ["-o", str(tmp / f"{slug}.npy")] + TORCH_FP32, 1),
        ("single process, 2 threads", base + ["-o", str(tmp / f"{slug}.npy")] + TORCH_FP32, 2),
        ("--engine ray, 1 worker x 1 CPU", base + ["-o", str(tmp / f"{slug}-r1"), "--engine", "ray", "--workers", "1", "--shard-rows", str(shard_rows)] + TORCH_FP32, 1),
        ("--engine ray, 2 workers x 1 CPU", base + ["-o", str(tmp / f"{slug}-r2"), "--engine", "ray", "--workers", "2", "--shard-rows", str(shard_rows)] + TORCH_FP32, 1),
    ]
    rows = []
    for label, cmd, threads in runs:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1", RAY_DEDUP_LOGS="0")
        seconds, rss, log = timed(cmd, env)
        summary = [ln for ln in log.splitlines() if ln.startswith("wrote ")][-1]
        rate = re.search(r"([\d.]+) rows/s per busy worker" if "ray" in label else r"([\d.]+) texts/s", summary)
        rows.append({"data": name, "run": label, "rows": len(texts), "seconds": seconds, **rss, "shard_rows": shard_rows,
                     "busy_rate": float(rate.group(1)), "summary": summary})
        print(f"{name}: {label}: {seconds:.1f} s, {len(texts) / seconds:.1f} rows/s, rss {rss}", flush=True)
    for d in ("r1", "r2"):
        shutil.rmtree(tmp / f"{slug}-{d}", ignore_errors=True)
    return rows


def check_rate(n: int, tmp: Path) -> dict:
    """The driver's pass over the input (every row checked, shard starts recorded), in rows/s."""
    from bertkit.distributed.sources import plan_shards

    src = tmp / "check.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in generated_lines(n, seed=1)), encoding="utf-8")
    start = time.perf_counter()
    plan_shards(str(src), ["text"], 10_000)
    return {"rows": n, "seconds": time.perf_counter() - start}


def train_runs(n_train: int, tmp: Path) -> list[dict]:
    rows = []
    for nproc in (1, 2):
        out = tmp / f"clf-{nproc}"
        cmd = [sys.executable, "-m", "bertkit", "classify", "train", "--train", str(DATA / "sst2" / "train-clean.tsv"),
               "--dev", str(DATA / "sst2" / "dev-sentences.tsv"), "--text-column", "sentence", "--out", str(out),
               "--epochs", "1", "--batch-size", str(16 // nproc), "--max-train", str(n_train), "--max-length", "64", "--seed", "42",
               "--device", "cpu", "--json"] + (["--nproc", str(nproc)] if nproc > 1 else [])
        seconds, rss, log = timed(cmd, dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1"))
        config = json.loads((out / "bertkit.json").read_text())
        metrics = config["metrics"]
        rows.append({"nproc": nproc, "seconds": seconds, "train_seconds": metrics["seconds"],
                     "examples_per_second": metrics["examples_per_second"], "accuracy": metrics["dev_accuracy"]})
        print(f"train nproc {nproc}: {rows[-1]}", flush=True)
    return rows


def report(embed: list[dict], train: list[dict], args, check: dict | None = None) -> str:
    lines = [
        "## Scaling out: Ray Data and torchrun (bench/scale.py)",
        "",
        f"Command: `python bench/scale.py --lines {args.lines}" + (f" --contexts {args.contexts}" if args.contexts else "")
        + f" --train {args.train}`  ",
        f"Machine: {machine()}; 2 cores, **shared with six other busy processes while this ran** (load average 7-18), "
        "so every time is noisy (the same command varied by 2x between runs) and the 2-worker / 2-process runs "
        "competed with them for the second core: this machine cannot show a 2x.",
        "",
    ] + ([args.note, ""] if getattr(args, "note", None) else [])
    if embed:
        lines += [
            f"### Embedding: `bertkit embed` vs `--engine ray` ({args.lines:,} generated lines; "
            f"{'the first ' + format(args.contexts, ',') if args.contexts else 'all'} distinct SQuAD training contexts)",
            "",
            "all-MiniLM-L6-v2, mean pooling, torch fp32, CPU; wall time of the whole command (start-up, model load, "
            "and for Ray the local Ray start, included); Ray with `--shard-rows` 1000 (lines) and 100 (contexts).",
            "",
        ]
        for data in dict.fromkeys(r["data"] for r in embed):
            rows = [r for r in embed if r["data"] == data]
            lines += [
                "| data | run | rows | seconds | rows/s | vs 1 process, 1 thread | peak RSS driver (MiB) | peak RSS per worker (MiB) |",
                "|---|---|---:|---:|---:|---:|---:|---:|",
            ]
            base = rows[0]["seconds"]
            for r in rows:
                worker = f"{r['worker']:.0f} ({r['actors']} actors)" if r["actors"] else "-"
                lines.append(f"| {data} | {r['run']} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:.1f} | "
                             f"{base / r['seconds']:.2f}x | {r['driver']:.0f} | {worker} |")
            one, ray1 = rows[0], rows[2]
            per_row = 1000 * (1 / ray1["busy_rate"] - 1 / one["busy_rate"])
            fixed_one = one["seconds"] - one["rows"] / one["busy_rate"]
            fixed_ray = ray1["seconds"] - ray1["rows"] / ray1["busy_rate"]
            lines += ["", f"{data}: while working, one Ray worker embedded {ray1['busy_rate']:.1f} rows/s (shard read and "
                      f"Parquet write included) against {one['busy_rate']:.1f} rows/s inside the single process: "
                      f"{per_row:+.2f} ms per row; fixed start-up {fixed_ray:.0f} s with Ray vs {fixed_one:.0f} s without.", ""]
    if train:
        one, two = train
        lines += [
            f"### Training: `classify train` 1 process vs `--nproc 2` (torchrun, gloo)",
            "",
            f"MiniLM fine-tuned (mean pooling), seeded {args.train}-row subsample of SST-2 train-clean.tsv, 1 epoch, "
            "global batch 16 (16 in 1 process, 8 per process in 2: the same steps and the same batch size), max length 64, lr 3e-5, "
            "one thread per process; dev = dev-sentences.tsv (1,000 sentences).",
            "",
            "| processes | command seconds | training seconds | examples/s | dev accuracy |",
            "|---:|---:|---:|---:|---:|",
        ]
        for r in train:
            lines.append(f"| {r['nproc']} | {r['seconds']:.1f} | {r['train_seconds']:.1f} | {r['examples_per_second']:.1f} | {r['accuracy']:.4f} |")
        lines += ["", f"2 processes / 1 process: {two['examples_per_second'] / one['examples_per_second']:.2f}x examples/s "
                  f"(training loop only; the same seed and global batch: dev accuracy {one['accuracy']:.4f} vs {two['accuracy']:.4f}; "
                  "the two runs see the same batches but the 2-process one splits each across the processes, "
                  "with its own dropout draws). Data parallelism multiplies examples/s only while each process has its "
                  "own core or GPU and the gradient all-reduce (gloo over the full model each step) stays small next to the step.", ""]
    if embed and check:
        lines += cluster_plan(embed, check)
    return "\n".join(lines)


def cluster_plan(embed: list[dict], check: dict) -> list[str]:
    """A cluster plan computed only from the per-worker rates measured above."""
    lines = ["### A cluster plan from these numbers", ""]
    for data in dict.fromkeys(r["data"] for r in embed):
        rows = [r for r in embed if r["data"] == data]
        one, ray1, ray2 = rows[0], rows[2], rows[3]
        worker = ray1["busy_rate"]  # rows/s of one 1-CPU actor while it works (read + embed + write)
        fixed = ray1["seconds"] - ray1["rows"] / worker  # start-up: Ray, actor, model load, input check
        check_rate = check["rows"] / check["seconds"]
        lines += [
            f"**{data}** (measured: one 1-CPU worker {worker:.1f} rows/s while busy; the in-process rate of the "
            f"1-thread single process {one['busy_rate']:.1f} rows/s; fixed start-up of a Ray run {fixed:.0f} s; "
            f"the driver checks JSONL input at {check_rate:,.0f} rows/s ({check['rows']:,} rows timed); 2 workers on this 2-core machine: "
            f"{ray2['rows'] / ray2['seconds']:.1f} rows/s overall vs {ray1['rows'] / ray1['seconds']:.1f} with 1):",
            "",
            "| workers (1 CPU each) | rows/s (N x measured) | 50 M rows: embedding | + driver input check (serial) | output written (1.5 KB/row) |",
            "|---:|---:|---:|---:|---:|",
        ]
        for n in (1, 2, 16, 64, 256):
            rate = n * worker
            lines.append(f"| {n} | {rate:,.0f} | {50e6 / rate / 3600:,.1f} h | {50e6 / check_rate / 60:,.1f} min | {rate * 1.5e3 / 1e6:,.1f} MB/s |")
        lines.append("")
    lines += [
        "Reading the plan: a worker reads, tokenizes, embeds and writes its own shards, so tokenization and the model",
        "scale with the workers (N x the measured rate, as long as each worker has its own core: on this 2-core machine,",
        "shared with other jobs, the second worker did not have one). What does not scale is the driver's one pass over",
        "the input (the serial column) and the shared file system, which must take N x 1.5 KB of vectors per row embedded",
        "(384 float32 for MiniLM) plus the input. With 4-CPU workers (`--cpus-per-worker 4`) the per-worker rate",
        "is not measured here; the 2-thread single process above shows what a second thread gives one process.",
        "On GPUs the model stops being the bottleneck: the GPU section above measured a BERT-base-size model at",
        "16,940 SST-2 sentences/s and 2,236 SQuAD contexts/s on one H100 (bf16, batch 512, tokenization included;",
        "MiniLM was not measured on a GPU, nor was `--engine ray` with GPUs: this session had none). At that rate one",
        "GPU worker writes 16,940 x 1.5 KB = 25 MB/s of MiniLM vectors, N GPU workers N x 25 MB/s, and 50 M short",
        "rows take 50e6 / (N x 16,940) s = 49 min / N, so from about N = 16 the driver's serial input check",
        "(2.8 min per 50 M rows, above) and the shared file system's write rate are what limit the run, not the",
        "model; raise `--shard-rows` (fewer, larger files) and give each GPU worker CPUs to tokenize",
        "(`--cpus-per-worker 4 --gpus-per-worker 1`).",
        "",
        "Commands (INPUT and OUTDIR on a file system every node mounts; the same bertkit installed on every node):",
        "",
        "```bash",
        "ray start --head --port=6379                        # head node",
        "ray start --address=HEAD_IP:6379                    # each worker node",
        "bertkit embed /shared/corpus/ -o /shared/vectors --engine ray --address auto --cpus-per-worker 1",
        "bertkit embed /shared/corpus/ -o /shared/vectors --engine ray --address auto --gpus-per-worker 1 --cpus-per-worker 4",
        "# training: every node runs the same command; OUT on the shared file system",
        "torchrun --nnodes 2 --nproc_per_node 4 --rdzv_backend c10d --rdzv_endpoint HEAD_IP:29500 \\",
        "    -m bertkit classify train --train /shared/train.tsv --dev /shared/dev.tsv --out /shared/model",
        "```",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--contexts", type=int, default=None, help="use only the first N SQuAD contexts")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--parts", default="lines,contexts,train")
    ap.add_argument("--note", default=None, help="a sentence printed under the machine line")
    ap.add_argument("--report-only", action="store_true", help="rewrite the section from the last run's saved results")
    args = ap.parse_args()
    saved = Path(tempfile.gettempdir()) / "bertkit_scale_results.json"
    if args.report_only:
        results = json.loads(saved.read_text())
        write_section("scale", report(results["embed"], results["train"], args, results.get("check")))
        return
    parts = args.parts.split(",")
    old = json.loads(saved.read_text()) if saved.is_file() else {"embed": [], "train": []}
    embed, train = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "lines" in parts:
            embed += embed_runs("generated lines", generated_lines(args.lines), tmp, 1000)
        else:
            embed += [r for r in old["embed"] if r["data"] == "generated lines"]
        if "contexts" in parts:
            embed += embed_runs("SQuAD contexts", squad_contexts()[: args.contexts], tmp, 100)
        else:
            embed += [r for r in old["embed"] if r["data"] == "SQuAD contexts"]
        train = train_runs(args.train, tmp) if "train" in parts else old["train"]
        check = check_rate(100_000, tmp)
    body = report(embed, train, args, check)
    print(body)
    saved.write_text(json.dumps({"embed": embed, "train": train, "check": check}, indent=1))
    write_section("scale", body)


if __name__ == "__main__":
    main()
