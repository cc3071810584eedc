"""Classification on SST-2: features mode for every pooling + ensemble, the shipped
fine-tuned model, and fine-tuning throughput against a plain transformers loop.

    python bench/classify.py [--features-train 10000] [--best-full] [--steps 60]

1. ``bertkit classify train --mode features --pooling all`` on a seeded subsample of
   train.tsv (cold feature cache), dev = all of dev.tsv: accuracy, macro-F1, time.
2. With ``--best-full``: the best pooling of (1) again on ALL of train.tsv, end to end
   from a cold cache (the issue's "< 5 minutes" goal).
3. The shipped model (bertkit/models/sentiment) evaluated on dev.tsv.
4. Fine-tuning throughput, same model (all-MiniLM-L6-v2), same examples, batch 32,
   fp32, ``--steps`` optimizer steps each: bertkit's Trainer (mean pooling head, fused
   AdamW, length-grouped batches) vs a plain loop (AutoModelForSequenceClassification +
   torch AdamW) fed (a) the very same index batches and (b) random batches padded to
   their longest member (the usual DataLoader + DataCollatorWithPadding loop).
Writes its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, ROOT, machine, write_section  # noqa: E402

SST2 = DATA / "sst2"


def features_cli(n_train: int | None, cache: Path, out: Path, pooling: str = "all") -> tuple[list[dict], float, str, str]:
    """Run ``bertkit classify train --mode features`` end to end (process start-up included)."""
    import os
    import subprocess

    cmd = ["bertkit", "classify", "train", "--train", str(SST2 / "train.tsv"), "--dev", str(SST2 / "dev.tsv"),
           "--text-column", "sentence", "--mode", "features", "--pooling", pooling, "--out", str(out),
           "--cache-dir", str(cache), "--seed", "42"]
    if n_train:
        cmd += ["--max-train", str(n_train)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bertkit classify train failed: {done.stderr[-2000:]}")
    print(done.stderr, file=sys.stderr)
    config = json.loads((out / "bertkit_classifier.json").read_text())
    if pooling == "all":
        rows = config["metrics"]["comparison"]
    else:
        history = json.loads((out / "history.json").read_text())
        best = next(h for h in history if h["epoch"] == config["metrics"]["best_epoch"])
        rows = [{"pooling": pooling, "accuracy": best["accuracy"], "macro_f1": best["macro_f1"], "seconds": config["metrics"]["seconds"]}]
    return rows, seconds, " ".join(shlex.quote(c) for c in cmd), done.stdout


def shipped_model() -> dict:
    from bertkit.classification import evaluate_classifier, load_classifier

    start = time.perf_counter()
    clf = load_classifier(None)
    report = evaluate_classifier(clf, str(SST2 / "dev.tsv"), text_column="sentence")
    report["seconds"] = time.perf_counter() - start
    config = clf.config
    report["training"] = {k: config.training.get(k) for k in ("max_train", "epochs", "lora", "pooling", "lr", "max_length")}
    report["train_seconds"] = config.metrics.get("seconds")
    return report


def throughput(steps: int, batch_size: int = 32) -> dict:
    from transformers import AutoModelForSequenceClassification

    from bertkit.classification.data import read_examples
    from bertkit.classification.model import HeadSpec, PoolingHead, TextClassifier, cross_entropy
    from bertkit.encoder import Encoder, default_model_dir
    from bertkit.encoder.batching import pad_batch
    from bertkit.training import TrainConfig, Trainer, grouped_batches

    data = read_examples(str(SST2 / "train.tsv"), text_column="sentence")
    rng = np.random.default_rng(0)
    pick = rng.choice(len(data), steps * batch_size, replace=False)
    data = data.subset(pick.tolist())
    labels = torch.tensor([int(x) for x in data.labels])

    torch.manual_seed(0)
    encoder = Encoder(None, device="cpu", max_length=128)
    windows = encoder.tokenize(data.texts)
    grouped = grouped_batches(windows.lengths, batch_size, seed=0, epoch=0)
    random_batches = [list(b) for b in np.array_split(rng.permutation(len(data)), steps)]
    pad = encoder.tokenizer.pad_token_id or 0

    def collate(idx):
        return pad_batch([windows.features[i] for i in idx], pad, encoder.input_keys)

    def padded_tokens(batches):
        return sum(len(b) * max(windows.lengths[i] for i in b) for b in batches)

    # bertkit: TextClassifier + Trainer (fused AdamW, schedule, clipping), no eval, no checkpoints.
    model = TextClassifier(encoder, PoolingHead(HeadSpec("mean"), encoder.hidden_size, encoder.num_layers, 2))
    config = TrainConfig(epochs=1, lr=3e-5, checkpoint_every=0, seed=0, patience=None)
    trainer = Trainer(model, lambda e: grouped, lambda m, idx: cross_entropy(m(collate(idx))[0], labels[idx]), None, config)
    start = time.perf_counter()
    trainer.fit()
    t_ours = time.perf_counter() - start

    def plain(batches) -> float:
        torch.manual_seed(0)
        hf = AutoModelForSequenceClassification.from_pretrained(str(default_model_dir()), num_labels=2)
        hf.train()
        opt = torch.optim.AdamW(hf.parameters(), lr=3e-5, weight_decay=0.01)
        start = time.perf_counter()
        for idx in batches:
            batch = collate(idx)
            out = hf(**batch, labels=labels[idx])
            opt.zero_grad()
            out.loss.backward()
            opt.step()
        return time.perf_counter() - start

    t_same = plain(grouped)
    t_random = plain(random_batches)
    n = steps * batch_size
    return {
        "steps": steps, "batch_size": batch_size, "examples": n,
        "bertkit_s": t_ours, "plain_same_s": t_same, "plain_random_s": t_random,
        "tokens_grouped": padded_tokens(grouped), "tokens_random": padded_tokens(random_batches),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--features-train", type=int, default=10000)
    ap.add_argument("--best-full", action="store_true")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--full-only", metavar="POOLING", help="Only run POOLING on all of train.tsv and add it to the last results.")
    ap.add_argument("--throughput-only", action="store_true", help="Only re-measure throughput (--steps) into the last results.")
    args = ap.parse_args()
    command = "python bench/classify.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    saved = ROOT / "runs" / "bench_classify.json"
    if args.full_only:
        results = json.loads(saved.read_text())
        with tempfile.TemporaryDirectory() as tmp:
            full, seconds, cmd, table = features_cli(None, Path(tmp) / "cache", Path(tmp) / "m", pooling=args.full_only)
        results.setdefault("extra_full", []).append({"row": full[0], "seconds": seconds, "command": cmd, "bench": command})
        saved.write_text(json.dumps(results, indent=1, default=str))
        write_section("classify", render(results, results["bench_command"], argparse.Namespace(**results["bench_args"])))
        return
    if args.throughput_only:
        results = json.loads(saved.read_text())
        results["throughput"] = {**throughput(args.steps), "command": command}
        saved.write_text(json.dumps(results, indent=1, default=str))
        write_section("classify", render(results, results["bench_command"], argparse.Namespace(**results["bench_args"])))
        return
    results: dict = {"bench_command": command, "bench_args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows, seconds, cmd, table = features_cli(args.features_train, tmp / "cache", tmp / "all")
        results["features"] = {"rows": rows, "seconds": seconds, "command": cmd, "stdout": table}
        best = max((r for r in rows if r["pooling"] != "ensemble"), key=lambda r: r["accuracy"])
        if args.best_full:
            full, full_seconds, cmd, table = features_cli(None, tmp / "cache-full", tmp / "best", pooling=best["pooling"])
            results["best_full"] = {"row": full[0], "seconds": full_seconds, "command": cmd, "stdout": table}
    results["shipped"] = shipped_model()
    if not args.skip_throughput:
        results["throughput"] = throughput(args.steps)
    print(json.dumps(results, indent=1, default=str))
    saved.parent.mkdir(exist_ok=True)
    saved.write_text(json.dumps(results, indent=1, default=str))
    write_section("classify", render(results, command, args))


def render(r: dict, command: str, args) -> str:
    lines = [
        "## Classification (bench/classify.py)", "",
        f"Command: `{command}`  ",
        f"Data: ../shared/data/sst2; dev = all of dev.tsv ({r['shipped']['examples']} rows). Machine: {machine()}; "
        "the 2 cores were shared with other jobs during the run, so times are upper bounds.  ",
        "Caveat: dev.tsv is a split of GLUE SST-2 *train*, whose rows are phrases of the same parse trees: ~89% of dev "
        "phrases (sampled) occur inside some train phrase, so heads that memorise (many epochs over cached features) score "
        "higher here than they would on the official sentence-level dev set.", "",
        f"### Features mode, every pooling (`--mode features --pooling all`, train = seeded subsample of {args.features_train} rows, cold cache)", "",
        "| pooling | dev accuracy | dev macro-F1 | time (s) |", "|---|---:|---:|---:|",
    ]
    for row in r["features"]["rows"]:
        lines.append(f"| {row['pooling']} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | {row['seconds']:.1f} |")
    lines += ["", f"Whole command (`bertkit classify train --mode features --pooling all`, process start-up and the one shared "
              f"embedding pass of train + dev included): {r['features']['seconds']:.1f} s. The first row's time includes the "
              "embedding pass; the ensemble's is its dev evaluation (the encoder runs once per batch for all members).", ""]
    if "best_full" in r:
        b = r["best_full"]
        ok = b["row"]["accuracy"] >= 0.83 and b["seconds"] < 300
        lines += [f"Best pooling ({b['row']['pooling']}) on ALL of train.tsv (60,614 rows), cold cache, the CLI end to end: dev accuracy "
                  f"{b['row']['accuracy']:.4f}, {b['seconds']:.1f} s. Goal >= 83% in < 5 min: **{'met' if ok else 'missed'}**.", ""]
    for extra in r.get("extra_full", []):
        ok = extra["row"]["accuracy"] >= 0.83 and extra["seconds"] < 300
        lines += [f"`{extra['bench']}`: {extra['row']['pooling']} on ALL of train.tsv, cold cache, the CLI end to end: dev accuracy "
                  f"{extra['row']['accuracy']:.4f}, {extra['seconds']:.1f} s. Goal >= 83% in < 5 min: **{'met' if ok else 'missed'}**.", ""]
    s = r["shipped"]
    t = s["training"]
    lines += [
        "### The shipped fine-tuned model (bertkit/models/sentiment)", "",
        f"Fine-tuned with LoRA rank {t['lora']} + {t['pooling']} pooling, {t['epochs']} epoch on "
        + (f"a seeded subsample of {t['max_train']}" if t["max_train"] else "all 60,614")
        + f" train rows (max length {t['max_length']}), training time {s['train_seconds'] or float('nan'):.0f} s on one thread "
        "(see README for the command).  ",
        f"Dev: accuracy **{s['accuracy']:.4f}**, macro-F1 {s['macro_f1']:.4f} (evaluation {s['seconds']:.1f} s). "
        f"Goal >= 90%: **{'met' if s['accuracy'] >= 0.9 else 'missed'}**.", "",
        "Fine-tuning mode for every pooling was **not** run: one full fine-tuning epoch of MiniLM costs ~25+ min on this shared "
        "2-core CPU, eight of them did not fit the time; the finetune path is covered by the shipped model above and the tests.", "",
    ]
    if "throughput" in r:
        h = r["throughput"]
        ours = h["examples"] / h["bertkit_s"]
        same = h["examples"] / h["plain_same_s"]
        rand = h["examples"] / h["plain_random_s"]
        lines += [
            f"### Fine-tuning throughput ({h['steps']} steps x batch {h['batch_size']}, fp32, all-MiniLM-L6-v2, full fine-tuning)", "",
            *([f"Command: `{h['command']}`", ""] if h.get("command") else []),
            "| loop | batches | padded tokens | seconds | examples/s | bertkit vs it |", "|---|---|---:|---:|---:|---:|",
            f"| bertkit Trainer (mean head, fused AdamW, clipping, schedule) | length-grouped | {h['tokens_grouped']} | {h['bertkit_s']:.1f} | {ours:.1f} | - |",
            f"| plain AutoModelForSequenceClassification + AdamW | the same batches | {h['tokens_grouped']} | {h['plain_same_s']:.1f} | {same:.1f} | {ours / same:.2f}x |",
            f"| plain AutoModelForSequenceClassification + AdamW | random, padded to longest | {h['tokens_random']} | {h['plain_random_s']:.1f} | {rand:.1f} | {ours / rand:.2f}x |",
            "",
            f"Goal >= 1.5x the plain loop: against the plain loop on random batches **{'met' if ours / rand >= 1.5 else 'missed'}** "
            f"({ours / rand:.2f}x). Against the plain loop fed the very same batches it is "
            f"**{'met' if ours / same >= 1.5 else 'missed'}** ({ours / same:.2f}x): most of the gain is grouping by length "
            f"({h['tokens_random'] / h['tokens_grouped']:.1f}x fewer padded tokens); the remaining {ours / same:.2f}x is the step "
            "itself (fused AdamW; a mean-pooling head instead of the pooler path), not broken down further.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
