"""Embedding on a GPU: a BERT-base-size encoder (random weights: timing only), bertkit's
torch backend in fp32/bf16/fp16 against sentence-transformers, with the fraction of the
GPU's bf16 matrix-product peak measured in the same run.

    python bench/gpu.py --texts TEXTS.json --tokenizer DIR [--out RESULT.md] [--n 4000]

TEXTS.json holds {"sst2": [...], "contexts": [...]} (bench/gpu.py --prepare DIR writes it,
with the tokenizer files, from ../shared/data and the packaged model: the GPU machine
has neither). Each configuration: one warm-up, then the best of ``--repeats`` runs.
Writes the markdown section to ``--out``; ``--write FILE`` puts such a file into
BENCHMARKS.md (section engine-gpu).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            max_position_embeddings=512, type_vocab_size=2)


def prepare(dest: Path, n: int, n_long: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from engine import contexts, sst2

    from bertkit import default_model_dir

    dest.mkdir(parents=True, exist_ok=True)
    (dest / "texts.json").write_text(json.dumps({"sst2": sst2(n), "contexts": contexts(n_long)}))
    tok = dest / "tokenizer"
    tok.mkdir(exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (default_model_dir() / name).exists():
            shutil.copy(default_model_dir() / name, tok / name)


def make_base_model(tokenizer: Path, dest: Path) -> Path:
    """A random-weight BERT-base directory (safetensors) with the given tokenizer."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(BertConfig(**BASE)).save_pretrained(dest, safe_serialization=True)
    for f in tokenizer.iterdir():
        shutil.copy(f, dest / f.name)
    return dest


def bf16_peak(size: int = 8192, iters: int = 10) -> float:
    """TFLOP/s of a bf16 square matrix product on the GPU (mean of ``iters`` after warm-up)."""
    a = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(size, size, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        a @ b
    torch.cuda.synchronize()
    return 2 * size**3 * iters / (time.perf_counter() - start) / 1e12


def flops_per_token(avg_len: float) -> float:
    h, i, layers = BASE["hidden_size"], BASE["intermediate_size"], BASE["num_hidden_layers"]
    return 2 * layers * (4 * h * h + 2 * h * i) + 2 * layers * 2 * avg_len * h


def best_of(fn, texts, repeats: int) -> tuple[float, np.ndarray]:
    fn(texts[:64])
    best, out = float("inf"), None
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn(texts)
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def configs(model_dir: Path):
    from sentence_transformers import SentenceTransformer, models

    from bertkit import Embedder

    def st(dtype):
        word = models.Transformer(str(model_dir), max_seq_length=256)
        m = SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension(), "mean")], device="cuda")
        if dtype is not None:
            m = m.to(dtype)
        return lambda xs: m.encode(xs, batch_size=32, convert_to_numpy=True)

    def ours(dtype, batch, tokens=None):
        e = Embedder(str(model_dir), pooling="mean", dtype=dtype, device="cuda", batch_size=batch, max_batch_tokens=tokens, max_length=256)
        return lambda xs: e.embed(xs)

    return {
        "sentence-transformers encode (batch 32, fp32)": lambda: st(None),
        "sentence-transformers encode (batch 32, model in fp16)": lambda: st(torch.float16),
        "bertkit torch fp32 (batch 32)": lambda: ours("fp32", 32),
        "bertkit torch bf16 autocast (batch 32)": lambda: ours("bf16", 32),
        "bertkit torch bf16 autocast (batch 512, <= 65,536 tokens)": lambda: ours("bf16", 512, 65536),
        "bertkit torch fp16 autocast (batch 512, <= 65,536 tokens)": lambda: ours("fp16", 512, 65536),
    }


def smoke(model_dir: Path, texts: list[str]) -> list[str]:
    """Every pooling, layer selection and long-text mode on CUDA (fp32, bf16, fp16) against the CPU."""
    from bertkit import Embedder

    lines = []
    for pooling, layers, long in (("mean", "-1", "truncate"), ("cls+max+min", "-4:", "truncate"), ("mean_sqrt_len", "all", "window"),
                                  ("weighted_layer", "-1", "truncate"), ("attention", "-1", "window")):
        kw = dict(pooling=pooling, layers=layers, long=long, max_length=64)
        cpu = Embedder(str(model_dir), device="cpu", **kw)
        ref = cpu.embed(texts)
        for dtype in ("fp32", "bf16", "fp16"):
            gpu = Embedder(str(model_dir), device="cuda", dtype=dtype, pooling_module=cpu.pooling, **kw)
            got = gpu.embed(texts)
            cos = (ref * got).sum(1) / np.maximum(np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1), 1e-12)
            ok = np.isfinite(got).all()
            lines.append(f"smoke {pooling} layers {layers} {long} {dtype}: finite {ok}, mean cosine to CPU fp32 {cos.mean():.5f}, worst {cos.min():.5f}")
            print(lines[-1], flush=True)
    return lines


def run(args) -> str:
    from transformers import AutoTokenizer

    texts = json.loads(Path(args.texts).read_text())
    peak = bf16_peak()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = make_base_model(Path(args.tokenizer), Path(tmp) / "bert-base")
        tok = AutoTokenizer.from_pretrained(str(model_dir))
        smoke_lines = smoke(model_dir, texts["sst2"][:200] + texts["contexts"][:20])
        sections = []
        datasets = [
            ("SST-2 dev sentences", texts["sst2"][: args.n]),
            ("SQuAD contexts (truncated at 256 tokens), the CPU benchmark's 300", texts["contexts"][:300]),
            ("SQuAD contexts (truncated at 256 tokens), 4,000 (all 1,354 in the data, repeated): a load the size of a GPU",
             (texts["contexts"] * 3)[:4000]),
        ]
        for label, data in datasets:
            lengths = [len(x) for x in tok(data, truncation=True, max_length=256)["input_ids"]]
            tokens, avg = sum(lengths), sum(lengths) / len(lengths)
            fpt = flops_per_token(avg)
            rows = [
                f"**{label}**: {len(data)} texts, {tokens} tokens (mean {avg:.1f}); ~{fpt / 1e6:.0f} MFLOP per token; "
                f"bf16 roofline {peak * 1e12 / fpt:,.0f} tokens/s",
                "",
                "| configuration | texts/s | tokens/s | vs sentence-transformers fp32 | % of bf16 peak | mean cosine to bertkit fp32 | worst |",
                "|---|---:|---:|---:|---:|---:|---:|",
            ]
            results = {}
            for name, make in configs(model_dir).items():
                results[name] = best_of(make(), data, args.repeats)
                torch.cuda.empty_cache()
            ref = results["bertkit torch fp32 (batch 32)"][1]
            st_time = results["sentence-transformers encode (batch 32, fp32)"][0]
            for name, (seconds, vecs) in results.items():
                cos = (ref * vecs).sum(1) / np.maximum(np.linalg.norm(ref, axis=1) * np.linalg.norm(vecs, axis=1), 1e-12)
                rows.append(
                    f"| {name} | {len(data) / seconds:,.0f} | {tokens / seconds:,.0f} | {st_time / seconds:.2f}x | "
                    f"{100 * tokens / seconds * fpt / (peak * 1e12):.1f}% | {cos.mean():.5f} | {cos.min():.5f} |"
                )
            sections.append("\n".join(rows))
            print(sections[-1], flush=True)
    import transformers

    return "\n".join([
        "## Inference engine on a GPU (bench/gpu.py)",
        "",
        f"Command (on the lent GPU machine): `python bench/gpu.py --texts TEXTS.json --tokenizer DIR --n {args.n} --repeats {args.repeats}` "
        "(inputs from `python bench/gpu.py --prepare DIR`)  ",
        f"GPU: {torch.cuda.get_device_name()}; torch {torch.__version__}, transformers {transformers.__version__}. "
        f"bf16 matrix product (8192^3) in the same run: {peak:.0f} TFLOP/s. Model: BERT-base size (12 layers, hidden 768) with random "
        "weights (timing only), mean pooling, max length 256; fp32 matmuls without TF32 (torch's default). Best of "
        f"{args.repeats} runs after a warm-up; times include tokenization and copying the vectors back.",
        "",
        *[s + "\n" for s in sections],
        "CUDA smoke test in the same run (bertkit on CUDA against the CPU, 220 texts, max length 64, learned poolings "
        "sharing their weights): " + "; ".join(line.removeprefix("smoke ") for line in smoke_lines) + ".",
    ])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prepare", type=Path, help="write texts.json and tokenizer/ into this folder, then stop")
    ap.add_argument("--write", type=Path, help="put this markdown file into BENCHMARKS.md, then stop")
    ap.add_argument("--texts", type=Path)
    ap.add_argument("--tokenizer", type=Path)
    ap.add_argument("--out", type=Path, default=Path("gpu.md"))
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--long", type=int, default=4000, help="contexts written by --prepare")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.prepare:
        prepare(args.prepare, args.n, args.long)
        return
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from report import write_section

        write_section("engine-gpu", args.write.read_text())
        return
    if not torch.cuda.is_available():
        raise SystemExit("bench/gpu.py needs a CUDA GPU")
    args.out.write_text(run(args))


if __name__ == "__main__":
    main()
