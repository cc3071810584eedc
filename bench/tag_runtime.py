"""The tagger's runtimes on WNUT-17 dev: entity F1 and words/s for torch fp32, torch bf16,
ONNX fp32 and what ``auto`` picks, on one saved tagger directory (``bertkit tag train``).

    python bench/tag_runtime.py --model TAGGER_DIR [--threads 1] [--sentences N] [--no-write]

Writes its section of BENCHMARKS.md (bench:tag-runtime). The tagger must have been trained
on WNUT-17 train only (dev is held out).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, machine, write_section  # noqa: E402

RUNTIMES = (("torch", "fp32"), ("torch", "bf16"), ("onnx", "fp32"), ("auto", "auto"))


def run(model: str, sentences: int | None) -> tuple[list[dict], int]:
    from bertkit.engine.runtime import cpu_features
    from bertkit.tagging import load_tagger, read_conll
    from bertkit.tagging.metrics import entity_report
    from bertkit.tagging.onnx import onnx_states

    dev = read_conll(DATA / "wnut17" / "dev.conll")
    words, tags = dev.words[:sentences], dev.tags[:sentences]
    rows = []
    for backend, dtype in RUNTIMES:
        if dtype == "bf16" and not cpu_features().native_bf16:
            continue
        tagger = load_tagger(model, backend=backend, dtype=dtype, device="cpu")
        if tagger.runtime.backend == "onnx":  # ONNX Runtime on as many threads as torch
            tagger.model.embedding.states_fn = onnx_states(tagger.model.embedding, model, threads=torch.get_num_threads())
        tagger.tag_words(words[:16])  # warm-up
        start = time.perf_counter()
        pred, _ = tagger.tag_words(words)
        seconds = time.perf_counter() - start
        f1 = entity_report(tags, pred, mode="conlleval", scheme=tagger.config.spec.scheme)["micro"]["f1"]
        rows.append({"asked": f"{backend} {dtype}", "runtime": str(tagger.runtime), "f1": f1,
                     "words_per_s": sum(map(len, words)) / seconds, "seconds": seconds})
        print(f"{backend}/{dtype}: {tagger.runtime}: F1 {f1:.4f}, {rows[-1]['words_per_s']:.0f} words/s", flush=True)
    return rows, len(words)


def _recipe(model: str) -> str:
    """How the benchmarked tagger was trained (from its bertkit.json)."""
    import json

    t = json.loads((Path(model) / "bertkit.json").read_text())["training"]
    keys = ("mode", "head", "layers", "layer_combine", "epochs", "max_train", "seed")
    return ", ".join(f"{k} {t.get(k)}" for k in keys) + f"; base {t.get('model') or 'packaged MiniLM'}"


def section(rows: list[dict], command: str, model: str, n: int) -> str:
    base = next(r for r in rows if r["asked"] == "torch fp32")
    lines = [
        "## Tagger runtimes (`bench/tag_runtime.py`)", "",
        f"`{command}` on {machine()}; WNUT-17 dev, {n} sentences, entity F1 conlleval-style.",
        f"The tagger (`bertkit tag train` on WNUT-17 train): {_recipe(model)}.",
        "ONNX Runtime runs on as many threads as torch. The machine was shared with other jobs: timings are indicative. The F1 column compares runtimes of one",
        "tagger (its training may have chosen its best epoch on dev), not taggers; see bench/tag.py for those.", "",
        "| asked | runtime | entity F1 | words/s | vs torch fp32 |", "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['asked']} | {r['runtime']} | {r['f1']:.4f} | {r['words_per_s']:.0f} | {r['words_per_s'] / base['words_per_s']:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a tagger directory trained on WNUT-17 train")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sentences", type=int, default=None, help="first N dev sentences (default: all)")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows, n = run(args.model, args.sentences)
    text = section(rows, "python bench/tag_runtime.py " + " ".join(sys.argv[1:]), args.model, n)
    print(text)
    if not args.no_write:
        write_section("tag-runtime", text)


if __name__ == "__main__":
    main()
