"""Named-entity tagging on WNUT-17 dev: the hand-written transformers recipe against
bertkit finetune mode (linear and CRF heads) and features mode (BiLSTM-CRF on cached
vectors) for the layer choices of the BERT paper's feature-based table.

    python bench/tag.py [--threads 1] [--train-sentences 0] [--features-epochs 20] [--parts hf,finetune,features,finetune-long,hf-long] [--append]

Data: ../shared/data/wnut17/{train,dev}.conll (``--train-sentences N``: a seeded random
subsample of train; 0 = all 3,394). Encoder: the packaged all-MiniLM-L6-v2 (uncased)
everywhere. Entity F1 is seqeval's (conlleval-style), the same function for every system.

1. ``hf``: what users write by hand: ``AutoModelForTokenClassification``, labels on the
   first sub-token (-100 elsewhere), AdamW lr 5e-5, batch 16, 3 epochs, linear decay
   without warm-up (the transformers Trainer's defaults), last epoch scored.
2. ``finetune``: ``bertkit tag train --mode finetune --head linear|crf`` with the same
   budget (3 epochs, lr 5e-5, batch 16; bertkit's 10% warm-up; best dev epoch kept).
3. ``features``: one frozen pass caches every layer (``ContextualEmbedding`` cache), then
   ``--mode features --head bilstm-crf`` for: embeddings only (layer 0), last layer,
   second-to-last, sum of the last four, concatenation of the last four, sum of all 6.
Writes its section of BENCHMARKS.md; raw results in runs/bench_tag.json (updated after
every system, so a cut-short run keeps what finished).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, ROOT, machine, write_section  # noqa: E402

WNUT = DATA / "wnut17"
SPEED_SENTENCES = 300  # prediction speed is timed on the first 300 dev sentences
RUNS = ROOT / "runs"
FEATURE_CONFIGS = [  # name, --layers, --layer-combine (BERT paper, table 7), likeliest best first
    ("concat last four", "-4:", "concat"),
    ("sum last four", "-4:", "sum"),
    ("last layer", "-1", "mean"),
    ("second-to-last", "-2", "mean"),
    ("sum all layers", "all", "sum"),
    ("embeddings (layer 0)", "0", "mean"),
]


def _subsample(args) -> tuple[Path, Path]:
    from bertkit.tagging.conll import read_conll

    if not args.train_sentences:
        return WNUT / "train.conll", WNUT / "dev.conll"
    data = read_conll(WNUT / "train.conll")
    keep = set(np.random.default_rng(args.seed).choice(len(data), args.train_sentences, replace=False).tolist())
    seen = {t for i in keep for t in data.tags[i]}
    for i, tags in enumerate(data.tags):  # every tag must occur in train (dev uses all 13)
        if not set(tags) <= seen:
            keep.add(i)
            seen |= set(tags)
    keep = sorted(keep)
    path = RUNS / "bench-tag" / f"train-{args.train_sentences}.conll"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("".join(f"{w}\t{t}\n" for w, t in zip(data.words[i], data.tags[i])) + "\n" for i in keep), encoding="utf-8")
    return path, WNUT / "dev.conll"


def _f1(true, pred) -> dict:
    from seqeval.metrics import classification_report, f1_score

    report = classification_report(true, pred, output_dict=True, zero_division=0)
    per_type = {k: round(v["f1-score"], 4) for k, v in report.items() if not k.endswith("avg")}
    return {"f1": round(f1_score(true, pred), 4), "per_type": per_type}


# -- 1. the hand-written recipe ------------------------------------------------------
def run_hf(train_path: Path, dev_path: Path, args, epochs: int = 3, lr: float = 5e-5) -> dict:
    from torch.utils.data import DataLoader
    from transformers import AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification, get_linear_schedule_with_warmup

    from bertkit.encoder.loading import default_model_dir
    from bertkit.tagging.conll import read_conll

    torch.manual_seed(args.seed)
    train, dev = read_conll(train_path), read_conll(dev_path)
    labels = train.labels()
    l2i = {t: i for i, t in enumerate(labels)}
    path = default_model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForTokenClassification.from_pretrained(path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=l2i)

    word_ids = {}

    def encode(data):
        enc = tok(data.words, is_split_into_words=True, truncation=True, max_length=512)
        rows = []
        for i, tags in enumerate(data.tags):
            prev, lab = None, []
            word_ids[id(data), i] = enc.word_ids(i)
            for w in enc.word_ids(i):
                lab.append(-100 if w is None or w == prev else l2i.get(tags[w], 0))
                prev = w
            rows.append({"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "token_type_ids": enc["token_type_ids"][i], "labels": lab})
        return rows

    collate = DataCollatorForTokenClassification(tok)
    loader = DataLoader(encode(train), batch_size=16, shuffle=True, collate_fn=collate, generator=torch.Generator().manual_seed(args.seed))
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = get_linear_schedule_with_warmup(opt, 0, epochs * len(loader))
    start = time.perf_counter()
    epoch_seconds = []
    model.train()
    for _ in range(epochs):
        t0 = time.perf_counter()
        for batch in loader:
            loss = model(**batch).loss
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
        epoch_seconds.append(round(time.perf_counter() - t0, 1))
    train_seconds = time.perf_counter() - start
    model.eval()
    dev_rows = encode(dev)
    t0 = time.perf_counter()
    pred = _hf_predict(model, collate, dev_rows, [word_ids[id(dev), i] for i in range(len(dev))], dev, labels)
    predict_seconds = time.perf_counter() - t0
    name = "transformers AutoModelForTokenClassification (hand-written)" + ("" if epochs == 3 and lr == 5e-5 else f", {epochs} epochs, lr {lr:g}")
    return {"system": name, **_f1(dev.tags, pred),
            "train_seconds": round(train_seconds, 1), "epoch_seconds": epoch_seconds, "words_per_second": round(dev.num_words / predict_seconds, 1)}


def _hf_predict(model, collate, rows: list[dict], word_ids: list[list], dev, labels: list[str]) -> list[list[str]]:
    """Word tags from the first sub-token's argmax, in batches of 64."""
    pred = []
    with torch.no_grad():
        for i in range(0, len(rows), 64):
            chunk = rows[i : i + 64]
            best = model(**collate([{k: v for k, v in r.items() if k != "labels"} for r in chunk])).logits.argmax(-1)
            for j in range(len(chunk)):
                tags, prev = ["O"] * len(dev.words[i + j]), None
                for t, w in enumerate(word_ids[i + j]):
                    if w is not None and w != prev:
                        tags[w] = labels[int(best[j, t])]
                    prev = w
                pred.append(tags)
    return pred


# -- 2 and 3. bertkit ----------------------------------------------------------------
def run_bertkit(train_path: Path, dev_path: Path, args, name: str, **options) -> dict:
    from bertkit.tagging import TagTrainOptions, load_tagger, read_conll, train_tagger

    out = RUNS / "bench-tag" / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    opts = TagTrainOptions(train=str(train_path), dev=str(dev_path), out=str(out), device="cpu", seed=args.seed,
                           cache_dir=str(RUNS / "bench-tag" / "cache"), checkpoint_every=0, **options)
    start = time.perf_counter()
    report = train_tagger(opts, log=lambda m: print(f"  [{name}] {m}", flush=True))
    train_seconds = time.perf_counter() - start
    dev = read_conll(dev_path)
    tagger = load_tagger(out, backend="torch", dtype="fp32", device="cpu")  # from the saved directory, encoder running (no cache); fp32 as the peer
    sample = dev.words[:SPEED_SENTENCES]
    t0 = time.perf_counter()
    tagger.tag_words(sample)
    predict_seconds = time.perf_counter() - t0
    dev_report = report.report  # bertkit's entity_report, equal to seqeval's (tests/tagging/test_metrics.py)
    return {"system": name, "f1": round(dev_report["micro"]["f1"], 4), "per_type": {k: round(v["f1"], 4) for k, v in dev_report["per_type"].items()},
            "train_seconds": round(train_seconds, 1), "epoch_seconds": report.epoch_seconds, "best_epoch": report.best_epoch,
            "epochs": opts.epochs, "words_per_second": round(sum(len(w) for w in sample) / predict_seconds, 1)}


def warm_cache(train_path: Path, dev_path: Path) -> float:
    """One frozen pass storing every layer (0..L) of every sentence, for all features configs."""
    from bertkit.nn import ContextualEmbedding
    from bertkit.tagging import read_conll

    emb = ContextualEmbedding(layers="0:", subword="first", cache_dir=RUNS / "bench-tag" / "cache", device="cpu")
    t0 = time.perf_counter()
    with torch.no_grad():
        for path in (train_path, dev_path):
            words = read_conll(path).words
            for i in range(0, len(words), 256):
                emb(words[i : i + 256])
    return time.perf_counter() - t0


# -- report --------------------------------------------------------------------------
def _section(results: list[dict], args, cache_seconds: float | None, command: str, note: str = "") -> str:
    types = sorted({k for r in results for k in r["per_type"]})
    lines = [
        "## Named-entity tagging (bench/tag.py)", "",
        f"`{command}` on {machine()}. **The machine was shared with other jobs during the run: timings are indicative, ratios more than absolutes.**", "",
        f"WNUT-17 dev (1,009 sentences, 15,733 words); train: {'all 3,394 sentences' if not args.train_sentences else f'a seeded random {args.train_sentences} of the 3,394 sentences'}. "
        "Encoder: the packaged all-MiniLM-L6-v2 (uncased, so capitalisation, the strongest NER cue on WNUT, is lost to every system alike). "
        "Entity F1 conlleval-style on all of dev: seqeval for the hand-written recipe, bertkit's `entity_report` (tested equal to seqeval) for bertkit; "
        f"bertkit's dev words/s timed on the first {SPEED_SENTENCES} dev sentences with the saved model (encoder running, no cache).", "",
        "| system | entity F1 | " + " | ".join(types) + " | train s | s/epoch | dev words/s |",
        "|---|---|" + "---|" * len(types) + "---|---|---|",
    ]
    for r in results:
        per_epoch = np.mean(r["epoch_seconds"]) if r["epoch_seconds"] else float("nan")
        cells = " | ".join(f"{r['per_type'].get(t, 0.0):.3f}" for t in types)
        lines.append(f"| {r['system']} | **{r['f1']:.4f}** | {cells} | {r['train_seconds']:.0f} | {per_epoch:.1f} | {r['words_per_second']:.0f} |")
    lines.append("")
    if note:
        lines += [note, ""]
    if cache_seconds is not None:
        lines.append(f"Features mode: the frozen pass that fills the cache with every layer took {cache_seconds:.0f} s here (not in the per-config train s, which read the cache). "
                     "bertkit's s/epoch includes its dev evaluation after every epoch; the hand-written recipe's does not.")
    by = {r["system"]: r for r in results}
    hf = by.get("transformers AutoModelForTokenClassification (hand-written)")
    fine = [r for r in results if r["system"] in ("bertkit finetune + linear", "bertkit finetune + crf")]  # the recipe's budget
    longer = [r for r in results if r["system"].startswith("bertkit finetune + linear, ")]
    feats = [r for r in results if r["system"].startswith("features")]
    if hf and fine:
        best_fine = max(fine, key=lambda r: r["f1"])
        lines.append(f"- finetune vs the hand-written recipe: {best_fine['system']} {best_fine['f1']:.4f} vs {hf['f1']:.4f} "
                     f"({100 * (best_fine['f1'] - hf['f1']):+.1f} F1 points); goal finetune >= recipe: {'met' if best_fine['f1'] >= hf['f1'] else 'NOT met'}.")
    if fine and feats:
        best_feat = max(feats, key=lambda r: r["f1"])
        best_fine = max(fine, key=lambda r: r["f1"])
        speed = np.mean(best_fine["epoch_seconds"]) / max(np.mean(best_feat["epoch_seconds"]), 1e-9)
        gap = 100 * (best_fine["f1"] - best_feat["f1"])
        where = f"{gap:.1f} F1 points behind" if gap > 0 else f"{-gap:.1f} F1 points ahead"
        lines.append(f"- best features config ({best_feat['system']}) {best_feat['f1']:.4f} vs best finetune ({best_fine['system']}) {best_fine['f1']:.4f}: {where} "
                     f"(goal: at most 3 behind: {'met' if gap <= 3 else 'NOT met'}); its epochs are {speed:.1f}x faster (goal >= 5x: {'met' if speed >= 5 else 'NOT met'}).")
    hf_longer = [r for r in results if r["system"].startswith("transformers AutoModelForTokenClassification (hand-written), ")]
    if longer and hf_longer:
        lines.append(f"- at that longer budget, bertkit finetune + linear {longer[0]['f1']:.4f} vs the hand-written recipe {hf_longer[0]['f1']:.4f} "
                     f"({100 * (longer[0]['f1'] - hf_longer[0]['f1']):+.1f} F1 points).")
    if longer and feats:
        best_feat = max(feats, key=lambda r: r["f1"])
        r = longer[0]
        speed = np.mean(r["epoch_seconds"]) / max(np.mean(best_feat["epoch_seconds"]), 1e-9)
        lines.append(f"- beyond the recipe's budget, {r['system']}: {r['f1']:.4f} vs the best features config {best_feat['f1']:.4f} "
                     f"({100 * (r['f1'] - best_feat['f1']):+.1f} points); features epochs {speed:.1f}x faster.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-sentences", type=int, default=0)
    parser.add_argument("--features-epochs", type=int, default=20)
    parser.add_argument("--parts", default="hf,finetune,features")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--long-epochs", type=int, default=10, help="part finetune-long: epochs (lr 1e-4)")
    parser.add_argument("--append", action="store_true", help="keep the rows of runs/bench_tag.json and add this run's")
    parser.add_argument("--render", action="store_true", help="only rewrite the BENCHMARKS.md section from runs/bench_tag.json")
    parser.add_argument("--note", default="", help="a sentence added under the table (e.g. what a cut-short run left out)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    command = "python bench/tag.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if args.render:
        previous = json.loads((RUNS / "bench_tag.json").read_text())
        write_section("tag", _section(previous["results"], args, previous["cache_seconds"], previous["command"], previous.get("note", args.note)))
        return
    parts = args.parts.split(",")
    train_path, dev_path = _subsample(args)
    RUNS.mkdir(exist_ok=True)
    results: list[dict] = []
    cache_seconds = None
    if args.append and (RUNS / "bench_tag.json").is_file():
        previous = json.loads((RUNS / "bench_tag.json").read_text())
        results, cache_seconds = previous["results"], previous["cache_seconds"]
        command = previous["command"] + " && " + command

    def record(result: dict) -> None:
        results.append(result)
        print(json.dumps(result), flush=True)
        (RUNS / "bench_tag.json").write_text(json.dumps({"command": command, "cache_seconds": cache_seconds, "results": results}, indent=1))
        write_section("tag", _section(results, args, cache_seconds, command))

    def finetune(head: str) -> None:
        if "finetune" in parts:
            record(run_bertkit(train_path, dev_path, args, f"bertkit finetune + {head}", mode="finetune", head=head, epochs=3, lr=5e-5, batch_size=16))

    # order: the head-to-head comparisons first, so a run cut short still answers them
    if "hf" in parts:
        record(run_hf(train_path, dev_path, args))
    finetune("linear")
    if "features" in parts:
        cache_seconds = warm_cache(train_path, dev_path)
        print(f"cache pass {cache_seconds:.1f} s", flush=True)
        for name, layers, combine in FEATURE_CONFIGS:
            record(run_bertkit(train_path, dev_path, args, f"features BiLSTM-CRF: {name}", mode="features", head="bilstm-crf",
                               layers=layers, layer_combine=combine, epochs=args.features_epochs))
    finetune("crf")
    if "hf-long" in parts:  # the hand-written recipe at the same longer budget
        record(run_hf(train_path, dev_path, args, epochs=args.long_epochs, lr=1e-4))
    if "finetune-long" in parts:  # beyond the recipe's budget: does finetune learn WNUT at all on this subsample?
        record(run_bertkit(train_path, dev_path, args, f"bertkit finetune + linear, {args.long_epochs} epochs, lr 1e-4", mode="finetune",
                           head="linear", epochs=args.long_epochs, lr=1e-4, batch_size=16))


if __name__ == "__main__":
    main()
