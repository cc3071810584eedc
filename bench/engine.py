"""The inference engine side by side: sentence-transformers vs bertkit's backends, one run.

    python bench/engine.py [--parts embed,tasks,memory] [--n 1000] [--long 400] [--qa 200] [--lines 10000,1000000] [--threads N]

Parts: ``embed`` (below), ``tasks`` (classify predict and QA against transformers'
pipelines: bench/engine_tasks.py) and ``memory`` (peak RSS on generated files).

For each configuration a fresh subprocess embeds the data (after a warm-up; ONNX
exports and the ``auto`` probe come from the cache, built before timing), so peak RSS is
per configuration. ``default`` is bertkit with no backend/dtype arguments (``auto``): the
summary under each table compares it with the fastest explicit configuration that passes
the gate (mean cosine to torch fp32 >= 0.9999; int8 runs only when asked, so it is listed
but not a candidate) and with sentence-transformers.
Reported: sentences/s, tokens/s, ratio to sentence-transformers, % of the bf16
matrix-product roofline measured in the same run, mean and worst cosine to torch fp32,
peak RSS. Then peak RSS of `bertkit embed` on generated files of growing size.
Writes its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, ROOT, machine, write_section  # noqa: E402

# sentence-transformers' ONNX backend (optional peer) needs its own packages, installed beside the repo:
#   pip install --target .bench_venv/tf457 --no-deps transformers==4.57.1 tokenizers==0.22.1 huggingface_hub==0.36.0
#   pip install --target .bench_venv/st_onnx --no-deps optimum==2.1.0 optimum-onnx==0.1.0 && pip install --target .bench_venv/st_onnx httpx

ST_ONNX_PATH = ROOT / ".bench_venv"  # tf457 (transformers 4.57) + st_onnx (optimum 2.1, optimum-onnx, httpx)

CONFIGS = {
    "st": "sentence-transformers encode (batch 32, fp32)",
    "default": "bertkit default (no backend/dtype: auto)",
    "st-onnx": "sentence-transformers backend='onnx' (batch 32, optimum export)",
    "torch-fp32": "bertkit torch fp32",
    "torch-bf16": "bertkit torch bf16 (autocast)",
    "onnx-fp32": "bertkit onnx fp32",
    "onnx-int8": "bertkit onnx int8",
}


AUTO_GATE = 0.9999  # the mean cosine the auto choice keeps (bertkit.engine.runtime.AUTO_MIN_COSINE)


def sst2(n: int) -> list[str]:
    with open(DATA / "sst2" / "dev-sentences.tsv", encoding="utf-8") as fh:
        return [r["sentence"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)][:n]


def contexts(n: int) -> list[str]:
    seen: list[str] = []
    for name in ("dev-v1.1.json", "train-v1.1.json"):
        for art in json.loads((DATA / "squad" / name).read_text())["data"]:
            for p in art["paragraphs"]:
                if p["context"] not in seen:
                    seen.append(p["context"])
                if len(seen) >= n:
                    return seen
    return seen


# ----------------------------------------------------------------------------- worker
def worker(config: str, texts_file: str, out_file: str, batch: int, max_tokens: int | None, threads: int | None = None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)
    texts = json.loads(Path(texts_file).read_text())
    runtime = ""
    if config == "st-onnx":  # sentence-transformers' own ONNX backend: needs optimum, which needs transformers < 4.58
        sys.path[:0] = [str(ST_ONNX_PATH / "tf457"), str(ST_ONNX_PATH / "st_onnx")]
        import shutil

        from sentence_transformers import SentenceTransformer

        from bertkit import default_model_dir

        copy = ST_ONNX_PATH / "st_onnx_model"  # exported once (by the untimed warm-up run), then reused
        fresh = not (copy / "onnx" / "model.onnx").is_file()
        if fresh:
            shutil.copytree(default_model_dir(), copy, dirs_exist_ok=True)
        model = SentenceTransformer(str(copy), device="cpu", backend="onnx")
        if fresh:
            model.save_pretrained(str(copy))
        run = lambda xs: model.encode(xs, batch_size=32, convert_to_numpy=True)  # noqa: E731
    elif config == "st":
        from sentence_transformers import SentenceTransformer

        from bertkit import default_model_dir

        model = SentenceTransformer(str(default_model_dir()), device="cpu")
        run = lambda xs: model.encode(xs, batch_size=32, convert_to_numpy=True)  # noqa: E731
    else:
        from bertkit import Embedder

        backend, dtype = config.split("-") if config != "default" else ("auto", "auto")
        emb = Embedder(pooling="mean", backend=backend, dtype=dtype, device="cpu", batch_size=batch, max_batch_tokens=max_tokens)
        run, runtime = emb.embed, str(emb.runtime)
    run(texts[:64])  # warm-up (and ONNX session creation)
    start = time.perf_counter()
    vecs = run(texts)
    seconds = time.perf_counter() - start
    np.save(out_file, vecs)
    print(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb(), "runtime": runtime}))


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent's, inherited at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(config: str, texts: list[str], tmp: Path, batch: int, max_tokens: int | None, threads: int | None = None) -> tuple[dict, np.ndarray]:
    src = tmp / "texts.json"
    src.write_text(json.dumps(texts))
    out = tmp / f"{config}.npy"
    cmd = [sys.executable, __file__, "--worker", config, str(src), str(out), "--batch", str(batch)]
    if max_tokens:
        cmd += ["--max-batch-tokens", str(max_tokens)]
    if threads:
        cmd += ["--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if k not in ("BERTKIT_BACKEND", "BERTKIT_DTYPE")}  # the real default
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**env, "TOKENIZERS_PARALLELISM": "false"})
    if proc.returncode != 0:
        raise RuntimeError(f"{config} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), np.load(out)


# ----------------------------------------------------------------------------- peaks
def matmul_peak(dtype_name: str, size: int = 1024, seconds: float = 2.0) -> float:
    """Sustained GFLOP/s of a square matrix product in this process."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(3):
        a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return 2 * size**3 * n / (time.perf_counter() - start) / 1e9


def flops_per_token(avg_len: float) -> float:
    from transformers import AutoConfig

    from bertkit import default_model_dir

    c = AutoConfig.from_pretrained(default_model_dir())
    h, i, layers = c.hidden_size, c.intermediate_size, c.num_hidden_layers
    dense = 2 * layers * (4 * h * h + 2 * h * i)  # QKV + output + feed-forward
    attention = 2 * layers * 2 * avg_len * h  # QK^T and AV per token
    return dense + attention


def cos_stats(ref: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    c = (ref * got).sum(1) / np.maximum(np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1), 1e-12)
    return float(c.mean()), float(c.min())


def memory_run(lines: int, tmp: Path) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of `bertkit embed` on a generated file of ``lines`` lines."""
    src = tmp / f"lines-{lines}.txt"
    with open(src, "w") as fh:
        for i in range(lines):
            fh.write(f"line {i} of a generated file for the memory test\n")
    code = (
        "import sys, time; from pathlib import Path; from bertkit.cli.app import main; t = time.perf_counter(); "
        f"rc = main(['embed', {str(src)!r}, '-o', {str(tmp / 'mem.npy')!r}, '--backend', 'onnx', '--device', 'cpu']); "
        "hwm = [l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM:')][0]; "
        "print(int(hwm.split()[1]) / 1024, time.perf_counter() - t); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    src.unlink()
    (tmp / "mem.npy").unlink(missing_ok=True)
    rss, seconds = proc.stdout.strip().splitlines()[-1].split()
    return float(rss), float(seconds)


def st_memory_run(lines: int, tmp: Path) -> float:
    """Peak RSS (MB) of sentence-transformers encoding the same generated lines in one call."""
    texts = [f"line {i} of a generated file for the memory test" for i in range(lines)]
    info, _ = run_worker("st", texts, tmp, 32, None)
    return info["rss_mb"]


def memory_part(args, tmp: Path) -> None:
    rows = ["| job | lines | peak RSS (MB) | seconds |", "|---|---:|---:|---:|"]
    counts = [int(x) for x in args.lines.split(",") if x]
    st = st_memory_run(min(counts), tmp)
    rows.append(f"| sentence-transformers `encode` (all in memory) | {min(counts):,} | {st:,.0f} | |")
    print(rows[-1], flush=True)
    for lines in counts:
        rss, seconds = memory_run(lines, tmp)
        rows.append(f"| `bertkit embed FILE -o out.npy --backend onnx` (streamed) | {lines:,} | {rss:,.0f} | {seconds:,.0f} |")
        print(rows[-1], flush=True)
    body = "\n".join(
        [
            "## Inference engine: memory (bench/engine.py --parts memory)",
            "",
            f"Command: `python bench/engine.py --parts memory --lines {args.lines}`  ",
            f"Machine: {machine()}. Generated one-line texts (~13 tokens each); bertkit streams them in chunks of 8,192 "
            "and writes the .npy incrementally; sentence-transformers gets the list in one call.",
            "",
            *rows,
        ]
    )
    write_section("engine-memory", body)


# ----------------------------------------------------------------------------- interleaved
def interleaved_part(args, rounds: int = 3) -> None:
    """The default against every explicit torch/ONNX fp32-or-bf16 run and sentence-transformers,
    in one process, interleaved round by round (load drifts hit every configuration alike);
    best of ``rounds``, printed (on a shared machine, run it when the load is low)."""
    from sentence_transformers import SentenceTransformer

    from bertkit import Embedder, default_model_dir

    for name in ("BERTKIT_BACKEND", "BERTKIT_DTYPE"):
        os.environ.pop(name, None)
    texts = sst2(args.n)
    kw = dict(device="cpu", batch_size=args.batch, max_batch_tokens=args.max_batch_tokens)
    runs = {"default": Embedder(**kw).embed, **{c: Embedder(backend=c.split("-")[0], dtype=c.split("-")[1], **kw).embed
                                                 for c in ("torch-bf16", "onnx-fp32", "torch-fp32")}}
    st = SentenceTransformer(str(default_model_dir()), device="cpu")
    runs["st"] = lambda xs: st.encode(xs, batch_size=32, convert_to_numpy=True)
    for run in runs.values():
        run(texts[:64])
    best = {k: float("inf") for k in runs}
    for r in range(rounds):
        for k, run in runs.items():
            start = time.perf_counter()
            run(texts)
            best[k] = min(best[k], time.perf_counter() - start)
        print(f"round {r + 1}: " + ", ".join(f"{k} {len(texts) / v:.0f}/s" for k, v in best.items()), flush=True)
    print(f"default: {Embedder(**kw).runtime}; {best['st'] / best['default']:.2f}x sentence-transformers", flush=True)


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--long", type=int, default=400)
    ap.add_argument("--lines", default="10000,1000000")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-batch-tokens", type=int, default=8192)
    ap.add_argument("--configs", default=",".join(CONFIGS), help="st-onnx runs only where .bench_venv/st_onnx is installed")
    ap.add_argument("--parts", default="embed,tasks,memory", help="which parts to run: embed, tasks, memory, interleaved")
    ap.add_argument("--qa", type=int, default=200, help="long-context questions for the QA comparison")
    ap.add_argument("--threads", type=int, default=None, help="torch threads in every run (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    parts = args.parts.split(",")
    with tempfile.TemporaryDirectory() as tmpdir:
        if "embed" in parts:
            embed_part(args, Path(tmpdir))
        if "tasks" in parts:
            from engine_tasks import tasks_part

            tasks_part(args, Path(tmpdir))
        if "memory" in parts:
            memory_part(args, Path(tmpdir))
        if "interleaved" in parts:
            interleaved_part(args)


def embed_part(args, tmp: Path) -> None:
    from transformers import AutoTokenizer

    from bertkit import Embedder, default_model_dir
    from bertkit.engine.runtime import cpu_features

    tok = AutoTokenizer.from_pretrained(default_model_dir())
    for name in ("onnx-fp32", "onnx-int8"):  # build the export cache outside the timings
        if name in args.configs:
            Embedder(backend="onnx", dtype=name.split("-")[1], device="cpu").embed(["warm the cache"])
    default = run_worker("default", ["warm the auto probe"], tmp, args.batch, None, args.threads)[0]["runtime"]  # probe cached
    peaks = {d: matmul_peak(d) for d in ("fp32", "bf16")}
    configs = [c for c in args.configs.split(",") if c != "st-onnx" or (ST_ONNX_PATH / "st_onnx").is_dir()]
    if "st-onnx" in configs:  # its export, outside the timings and the RSS
        run_worker("st-onnx", ["warm the export"], tmp, args.batch, None)
    sections = []
    for label, texts in (("SST-2 dev-sentences.tsv", sst2(args.n)), ("SQuAD contexts (truncated at 256 tokens)", contexts(args.long))):
        lengths = [len(x) for x in tok(texts, truncation=True, max_length=256)["input_ids"]]
        results = {c: run_worker(c, texts, tmp, args.batch, args.max_batch_tokens, args.threads) for c in configs}
        sections.append(_embed_table(label, texts, lengths, results, configs, peaks))
        print(sections[-1], flush=True)
    body = "\n".join(
        [
            "## Inference engine (bench/engine.py)",
            "",
            f"Command: `python bench/engine.py --parts embed --n {args.n} --long {args.long} --batch {args.batch} "
            f"--max-batch-tokens {args.max_batch_tokens}" + (f" --threads {args.threads}" if args.threads else "") + "`  ",
            f"Machine: {machine()}. CPU features: {cpu_features().summary()}. "
            f"Matrix products measured in the same run: fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s. "
            "Model all-MiniLM-L6-v2, mean pooling, max length 256. Each configuration runs in its own process after a warm-up; "
            "bertkit sorts by token length with batches of at most "
            f"{args.batch} texts and {args.max_batch_tokens} padded tokens. The default (no flags) chose: {default}.",
            "",
            *[s + "\n" for s in sections],
            "How to read these runs: see 'Reading the inference-engine runs' below (written by hand for the runs it names).",
        ]
    )
    write_section("engine", body)


def _embed_table(label: str, texts: list[str], lengths: list[int], results: dict, configs: list[str], peaks: dict) -> str:
    """One data set's table, then the default's standing against the gated configurations."""
    tokens, avg = sum(lengths), sum(lengths) / len(lengths)
    fpt = flops_per_token(avg)
    best = max(peaks.values())
    ref = results["torch-fp32"][1]
    st_time = results["st"][0]["seconds"] if "st" in results else None
    rows = [
        f"**{label}**: {len(texts)} texts, {tokens} tokens (mean {avg:.1f}); ~{fpt / 1e6:.1f} MFLOP per token; "
        f"roofline at the best measured matrix-product rate ({best:.0f} GFLOP/s): {best * 1e9 / fpt:,.0f} tokens/s",
        "",
        "| configuration | sentences/s | tokens/s | vs sentence-transformers | % of roofline | mean cosine to fp32 | worst cosine | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cosines = {}
    for c in configs:
        info, vecs = results[c]
        t = info["seconds"]
        cosines[c] = mean_cos, worst_cos = cos_stats(ref, vecs)
        ratio = f"{st_time / t:.2f}x" if st_time else "n/a"
        roof = 100 * tokens / t * fpt / (best * 1e9)
        rows.append(
            f"| {CONFIGS[c]} | {len(texts) / t:,.0f} | {tokens / t:,.0f} | {ratio} | {roof:.0f}% | {mean_cos:.5f} | {worst_cos:.5f} | {info['rss_mb']:,.0f} |"
        )
    rows += ["", _verdict(results, cosines, st_time)]
    return "\n".join(rows)


def _verdict(results: dict, cosines: dict, st_time: float | None) -> str:
    """The default against the fastest explicit bertkit configuration passing the gate."""
    if "default" not in results:
        return ""
    gated = [c for c in results if c not in ("st", "st-onnx", "default", "onnx-int8") and cosines[c][0] >= AUTO_GATE]
    fastest = min(gated, key=lambda c: results[c][0]["seconds"])
    d = results["default"][0]["seconds"]
    gap = d / results[fastest][0]["seconds"] - 1
    line = (f"Default ({results['default'][0]['runtime']}): {100 * gap:+.1f}% time against the fastest configuration passing "
            f"the gate ({CONFIGS[fastest]}; goal: within 5%)")
    if st_time:
        line += f"; {st_time / d:.2f}x sentence-transformers at mean cosine {cosines['default'][0]:.5f}"
    return line + "."


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        wp = argparse.ArgumentParser()
        wp.add_argument("--worker")
        wp.add_argument("texts")
        wp.add_argument("out")
        wp.add_argument("--batch", type=int, default=64)
        wp.add_argument("--max-batch-tokens", type=int, default=None)
        wp.add_argument("--threads", type=int, default=None)
        a = wp.parse_args()
        worker(a.worker, a.texts, a.out, a.batch, a.max_batch_tokens, a.threads)
    else:
        main()
