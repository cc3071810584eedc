"""Classification on SST-2's clean split: every pooling in features mode against
scikit-learn's logistic regression on the very same cached vectors, the shipped model,
and (kept from an earlier run) fine-tuning throughput.

    python bench/classify.py [--train-rows 20000] [--threads 1] [--skip-features] [--skip-shipped] [--resamples K]
                             [--finetune attention,weighted_layer,mean,... | all] [--finetune-rows 10000] [--finetune-epochs 2]

Data: train = a seeded subsample of ``train-clean.tsv`` (``--train-rows``; 0 = all
57,434 rows), scored on ``dev-sentences.tsv`` (1,000 whole sentences none of whose
phrases is in train). ``dev.tsv`` is never read.

1. The frozen packaged encoder embeds train and dev once (``FeatureCache`` under
   ``runs/bench-cache``; a rerun hits it).
2. For every pooling, bertkit's features-mode head is trained exactly as
   ``bertkit classify train --mode features`` trains it (``train_head``: standardised
   features, choices made on 10% of train held out), and scikit-learn's
   ``StandardScaler`` + ``LogisticRegressionCV`` (C from 10 values by 5-fold
   cross-validation on train) is fitted on the same cached vectors. For the learned
   poolings (attention, weighted_layer) the cache holds token states: the baseline reads
   their mean over tokens (and over the mixed layers), i.e. the untrained pooling.
3. Accuracy with 95% Wilson intervals; paired comparisons (same 1,000 sentences) with
   an exact McNemar test and a paired-bootstrap 95% interval of the difference.
   ``--resamples K`` repeats 2. on K further seeded subsamples of the same size and reports
   the average difference per pooling (one draw is within the noise of choosing the penalty).
4. The shipped model (bertkit/models/sentiment) on dev-sentences.tsv.
5. ``--finetune``: full fine-tuning with each named pooling head on one seeded subsample
   (``--finetune-rows``), bf16 autocast where the CPU has bf16 units (else fp32), the epoch
   kept chosen on 10% of the subsample; scored on dev-sentences.tsv with the same statistics.
   Models are kept under ``runs/bench-finetune`` (a rerun reuses them; a killed one resumes).
Writes its section of BENCHMARKS.md; raw results in runs/bench_classify.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import BENCHMARKS, DATA, ROOT, machine, write_section  # noqa: E402

SST2 = DATA / "sst2"
DEFAULT_TRAIN_ROWS = 20000
CLAIM = ("attention", "weighted_layer", "mean", "max", "min")  # the tutorial's ranking, best first


# -- statistics ------------------------------------------------------------------------
def wilson(correct: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of an accuracy."""
    n, p = len(correct), float(np.mean(correct))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def mcnemar(a: np.ndarray, b: np.ndarray) -> float:
    """Exact two-sided McNemar p-value for paired correctness vectors."""
    from scipy.stats import binomtest

    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    return 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, rounds: int = 5000, seed: int = 0) -> tuple[float, float]:
    """95% interval of accuracy(a) - accuracy(b) over resampled sentences."""
    rng = np.random.default_rng(seed)
    diff = a.astype(np.float64) - b.astype(np.float64)
    means = diff[rng.integers(0, len(diff), size=(rounds, len(diff)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    lo, hi = paired_bootstrap(a, b)
    return {"diff": float(a.mean() - b.mean()), "lo": lo, "hi": hi, "p": mcnemar(a, b)}


# -- the runs --------------------------------------------------------------------------
def baseline_inputs(features) -> np.ndarray:
    """The vectors scikit-learn reads: cached pooled vectors, or the mean of cached token states."""
    if features.vectors is not None:
        return features.vectors
    offsets = features.offsets
    states = features.states
    out = np.zeros((len(offsets) - 1, states.shape[-1]), dtype=np.float32)
    for i in range(len(out)):
        rows = states[offsets[i] : offsets[i + 1]].astype(np.float32)
        out[i] = rows.reshape(-1, states.shape[-1]).mean(axis=0)  # over tokens (and mixed layers)
    return out


def sklearn_baseline(x_train: np.ndarray, y_train: np.ndarray, x_dev: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()
    model = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=10, cv=5, max_iter=3000, n_jobs=1))
    model.fit(x_train, y_train)
    return {"pred": model.predict(x_dev), "C": float(model[-1].C_[0]), "seconds": time.perf_counter() - start}


def features_study(train_rows: int, seed: int, log) -> dict:
    from bertkit.classification.data import read_examples
    from bertkit.classification.features import FeatureCache, extract_features, request_for
    from bertkit.classification.headtrain import head_logits, train_head
    from bertkit.classification.model import HeadSpec, PoolingHead
    from bertkit.classification.options import ClassifyData, HeadOptions, RunOptions
    from bertkit.classification.train import load_training_data
    from bertkit.embeddings.pooling import pooling_names
    from bertkit.encoder.encoder import Encoder

    data = ClassifyData(train=str(SST2 / "train-clean.tsv"), dev=str(SST2 / "dev-sentences.tsv"), text_column="sentence",
                        max_train=train_rows or None, label_names="0=negative,1=positive")
    run = RunOptions(seed=seed).for_head(HeadOptions(mode="features", pooling="all"))
    train, dev, label_map = load_training_data(data, seed)
    encoder = Encoder(None, device="cpu")
    poolings = [p for p in pooling_names() if p != "pooler" or encoder.has_pooler]
    heads = {p: PoolingHead(HeadSpec(pooling=p, standardize=True), encoder.hidden_size, encoder.num_layers, len(label_map)) for p in poolings}
    requests = list(dict.fromkeys(request_for(h) for h in heads.values()))
    cache = FeatureCache(ROOT / "runs" / "bench-cache")
    start = time.perf_counter()
    f_train = dict(zip(requests, extract_features(encoder, train, requests, cache, log=log)))
    f_dev = dict(zip(requests, extract_features(encoder, dev, requests, cache, log=log)))
    embed_seconds = time.perf_counter() - start
    y_train, y_dev = label_map.encode(train.labels), label_map.encode(dev.labels)
    rows = []
    for pooling, head in heads.items():
        req = request_for(head)
        t0 = time.perf_counter()
        result = train_head(head, f_train[req], f_dev[req], train, dev, label_map, run, ROOT / "runs" / "bench-work" / str(seed) / pooling, log)
        seconds = time.perf_counter() - t0
        with torch.no_grad():
            idx = list(range(len(dev)))
            ours = torch.cat([head_logits(head, f_dev[req], idx[i : i + 256]) for i in range(0, len(idx), 256)]).argmax(1).numpy()
        base = sklearn_baseline(baseline_inputs(f_train[req]), y_train, baseline_inputs(f_dev[req]))
        row = {"pooling": pooling, "solver": result.extra["solver"], "seconds": seconds, "lr_seconds": base["seconds"], "lr_C": base["C"],
               "head_l2": result.extra.get("l2"), "best_epoch": result.best_epoch,
               "ours_correct": (ours == y_dev).astype(int).tolist(), "lr_correct": (base["pred"] == y_dev).astype(int).tolist()}
        log(f"{pooling}: bertkit {np.mean(row['ours_correct']):.4f} ({seconds:.1f} s), "
            f"LogisticRegressionCV {np.mean(row['lr_correct']):.4f} (C {base['C']:.3g}, {base['seconds']:.1f} s)")
        rows.append(row)
    return {"train_rows": len(train), "dev_rows": len(dev), "embed_seconds": embed_seconds, "rows": rows, "seed": seed}


def shipped_model() -> dict:
    """The shipped model on dev-sentences.tsv: torch fp32 (the reference) and backend "auto"."""
    from bertkit.classification import load_classifier
    from bertkit.classification.modeldir import read_verified
    from bertkit.io.files import tree_bytes

    directory = ROOT / "bertkit" / "models" / "sentiment"
    config = read_verified(directory)
    start = time.perf_counter()
    correct = _dev_correct(directory)
    seconds = time.perf_counter() - start
    auto = load_classifier(None)
    auto_correct = _dev_correct(directory, auto)
    return {"accuracy": float(correct.mean()), "correct": correct.tolist(), "examples": len(correct), "seconds": seconds,
            "auto": f"{auto.runtime.backend} {auto.runtime.dtype}", "auto_accuracy": float(auto_correct.mean()),
            "bytes": tree_bytes(directory),
            "pooling": config.head.pooling, "adapter": config.encoder.adapter, "training": config.training,
            "best_epoch": config.metrics.get("best_epoch")}


FINETUNE_POOLINGS = ("attention", "weighted_layer", "mean", "max", "min", "cls")


def _dev_correct(model_dir: Path, clf=None) -> np.ndarray:
    """Per-sentence correctness of a saved classifier (torch fp32 on CPU unless ``clf`` is given)
    on dev-sentences.tsv (raw labels renamed)."""
    from bertkit.classification import load_classifier
    from bertkit.classification.data import read_examples

    clf = clf or load_classifier(model_dir, backend="torch", dtype="fp32", device="cpu")
    dev = read_examples(str(SST2 / "dev-sentences.tsv"), text_column="sentence")
    names = {"0": "negative", "1": "positive"}
    pred = clf.predict_proba(dev.texts).argmax(axis=1)
    return np.array([clf.labels[i] == names[y] for i, y in zip(pred, dev.labels)], dtype=int)


def _subsample(rows: int, seed: int) -> Path:
    """A seeded subsample of train-clean.tsv as its own file (0: all rows), so that the 10% held out
    for choosing the epoch comes from the subsample."""
    path = ROOT / "runs" / "bench-finetune" / f"train-{rows}-{seed}.tsv"
    if path.exists():
        return path
    lines = (SST2 / "train-clean.tsv").read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    if rows:
        pick = np.random.default_rng(seed).choice(len(body), size=min(rows, len(body)), replace=False)
        body = [body[i] for i in sorted(pick)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def finetune_study(train_rows: int, epochs: int, poolings: list[str], seed: int, log) -> dict:
    """Full fine-tuning of MiniLM with each pooling head on the same subsample; the epoch kept
    is chosen on 10% of that subsample (never on dev-sentences.tsv, which is only scored)."""
    from bertkit.classification import train_classifier
    from bertkit.classification.options import ClassifyData, HeadOptions, RunOptions
    from bertkit.encoder.encoder import cpu_has_native_bf16

    dtype = "bf16" if cpu_has_native_bf16() else "fp32"  # bf16 autocast only where the CPU has bf16 units
    data = ClassifyData(train=str(_subsample(train_rows, seed)), dev_split=0.1, text_column="sentence",
                        label_names="0=negative,1=positive")
    rows = []
    for pooling in poolings:
        out = ROOT / "runs" / "bench-finetune" / f"{pooling}-{train_rows}-{epochs}-{seed}"
        if not (out / "manifest.json").exists():  # a finished model is reused; a killed one resumes
            run = RunOptions(epochs=epochs, dtype=dtype, seed=seed, patience=0, resume=(out / ".train").exists())
            report = train_classifier(data, out, HeadOptions(mode="finetune", pooling=pooling), run, log=log)
            seconds, held = report.seconds, report.rows[0]["accuracy"]
        else:
            from bertkit.classification.config import read_config

            metrics = read_config(out).metrics
            seconds, held = metrics.get("seconds", float("nan")), metrics.get("dev_accuracy", float("nan"))
        correct = _dev_correct(out)
        log(f"finetune {pooling}: dev-sentences {correct.mean():.4f}, held-out {held:.4f}, {seconds:.0f} s")
        rows.append({"pooling": pooling, "seconds": seconds, "held_out_accuracy": held, "correct": correct.tolist()})
    return {"train_rows": train_rows, "epochs": epochs, "dtype": dtype, "seed": seed, "rows": rows}


# -- the report ------------------------------------------------------------------------
def _acc(correct) -> str:
    c = np.asarray(correct, dtype=bool)
    lo, hi = wilson(c)
    return f"{c.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def _cmp(c: dict) -> str:
    sig = "**yes**" if c["p"] < 0.05 else "no"
    return f"{c['diff'] * 100:+.1f} [{c['lo'] * 100:+.1f}, {c['hi'] * 100:+.1f}] | {c['p']:.3f} | {sig}"


def _features_key(train_rows: int) -> str:
    """Where a features study is kept: the default subsample under "features", other sizes beside it."""
    return "features" if train_rows == DEFAULT_TRAIN_ROWS else f"features_{train_rows or 'all'}"


def render_features(r: dict, key: str) -> list[str]:
    f, command = r[key], r[key + "_command"]
    size = f"all {f['train_rows']:,} rows" if key == "features_all" else f"a seeded subsample of {f['train_rows']:,} rows"
    rows = {row["pooling"]: row for row in f["rows"]}
    ours = {p: np.asarray(row["ours_correct"], dtype=bool) for p, row in rows.items()}
    lr = {p: np.asarray(row["lr_correct"], dtype=bool) for p, row in rows.items()}
    lines = [
        "### Features mode, every pooling, against logistic regression on the same vectors"
        + ("" if key == "features" else f" ({f['train_rows']:,} training rows)"), "",
        f"Command: `{command}`  ",
        f"Train: {size} of train-clean.tsv; "
        f"dev: all {f['dev_rows']:,} sentences of dev-sentences.tsv. "
        + (f"One embedding pass for every pooling: {f['embed_seconds']:.0f} s. " if f["embed_seconds"] > 30 else
           "Features read from the cache of an earlier run (`runs/bench-cache`). ") +
        f"Machine: {r.get(key + '_machine', r['machine'])}; load average at the start: {f.get('load', 'not recorded (other jobs shared the cores)')}.  ",
        "bertkit = `train_head` as `bertkit classify train --mode features` runs it (features standardised; linear heads: exact "
        "L-BFGS logistic regression, L2 chosen by stratified 5-fold cross-validation on train (lowest mean held-out log-loss), "
        "then refitted; attention / weighted_layer: started from that logistic regression on the initial pooling, then AdamW, "
        "epoch chosen on 10% of train held out). LR = scikit-learn StandardScaler + LogisticRegressionCV (10 values of C, 5-fold CV on "
        "train, C chosen by its default criterion in scikit-learn 1.9: accuracy) on the same cached vectors (for attention / weighted_layer: the cached token states averaged). "
        "Accuracy with 95% Wilson interval; difference in points with a paired-bootstrap 95% interval and the exact McNemar "
        "p-value (significant: p < 0.05, uncorrected for the number of comparisons). Caveat: held-out rows and CV folds are rows of "
        "train-clean.tsv, i.e. phrases of the same parse trees as the rest of train, so held-out scores are optimistic and "
        "favour memorising heads; no sentence ids are available to hold out whole trees.", "",
        "| pooling | bertkit accuracy [95% CI] | LR accuracy [95% CI] | bertkit - LR (points) [95% CI] | McNemar p | significant | bertkit >= LR | bertkit s | LR s |",
        "|---|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    order = sorted(rows, key=lambda p: -ours[p].mean())
    for p in order:
        c = compare(ours[p], lr[p])
        lines.append(f"| {p} | {_acc(ours[p])} | {_acc(lr[p])} | {_cmp(c)} | {'yes' if c['diff'] >= 0 else 'no'} | "
                     f"{rows[p]['seconds']:.1f} | {rows[p]['lr_seconds']:.1f} |")
    never_loses = all(ours[p].mean() >= lr[p].mean() for p in rows)
    never_sig = all(not (compare(ours[p], lr[p])["p"] < 0.05 and ours[p].mean() < lr[p].mean()) for p in rows)
    best = order[0]
    lines += ["", f"Goal: bertkit's head >= LR for every pooling: **{'met' if never_loses else 'not met'}**"
              + ("" if never_loses else f" point for point; no pooling is significantly worse: **{'yes' if never_sig else 'no'}**")
              + f". Best pooling ({best}) >= 84%: **{'met' if ours[best].mean() >= 0.84 else 'not met'}** ({ours[best].mean():.3f}).", ""]
    lines += ["#### The tutorial's ranking: attention > weighted_layer > mean > max > min", ""]
    lines += _claim_lines(ours, order)
    return lines


def _claim_lines(ours: dict[str, np.ndarray], order: list[str]) -> list[str]:
    """The tutorial's ranking, step by step, on paired correctness vectors."""
    claim = [p for p in CLAIM if p in ours]
    lines = ["| comparison | difference (points) [95% CI] | McNemar p | significant (p < 0.05, either direction) |", "|---|---:|---:|---|"]
    holds = []
    for a, b in zip(claim, claim[1:]):
        c = compare(ours[a], ours[b])
        holds.append(c["diff"] > 0 and c["p"] < 0.05)
        lines.append(f"| {a} > {b} | {_cmp(c)} |")
    lines += ["", f"Measured order (by accuracy): {' > '.join(order)}. Each step of the claimed order confirmed "
              f"(higher and significant): {sum(holds)} of {len(holds)}.", ""]
    return lines


def render_finetune(r: dict) -> list[str]:
    f = r["finetune"]
    ours = {row["pooling"]: np.asarray(row["correct"], dtype=bool) for row in f["rows"]}
    rows = {row["pooling"]: row for row in f["rows"]}
    order = sorted(ours, key=lambda p: -ours[p].mean())
    lines = [
        "### Fine-tuning mode, pooling by pooling", "",
        f"Command: `{r['finetune_command']}`  ",
        f"Each pooling head fine-tunes all of all-MiniLM-L6-v2 (full fine-tuning, lr 3e-5, batch 32, {f['epochs']} epoch(s), "
        f"{f['dtype']} autocast, seed {f['seed']}) on the same seeded subsample of {f['train_rows']:,} rows of "
        "train-clean.tsv; the epoch kept is chosen on 10% of that subsample; dev-sentences.tsv is only scored. "
        f"Machine: {r.get('finetune_machine', r['machine'])}; load average at the start: {f.get('load', 'not recorded')}.", "",
        "| pooling | accuracy [95% CI] | held-out accuracy | training s |", "|---|---:|---:|---:|",
    ]
    for p in order:
        lines.append(f"| {p} | {_acc(ours[p])} | {rows[p]['held_out_accuracy']:.4f} | {rows[p]['seconds']:.0f} |")
    lines += ["", "#### The tutorial's ranking in fine-tuning mode: attention > weighted_layer > mean > max > min", ""]
    return lines + _claim_lines(ours, order)


def render(r: dict, command: str) -> str:
    lines = [
        "## Classification (bench/classify.py)", "",
        "All accuracy figures below are on `dev-sentences.tsv` (1,000 whole sentences held out with every phrase of their "
        "parse trees), trained on `train-clean.tsv`. Figures measured on `dev.tsv` in earlier versions of this file were "
        "optimistic (dev.tsv shares ~89% of its phrases with train.tsv) and have been removed.", "",
    ]
    for key in sorted((k for k in r if k.startswith("features") and isinstance(r[k], dict)), key=lambda k: k != "features"):
        lines += render_features(r, key)
        if f"resampled_{key}" in r:
            lines += render_resampled(r, f"resampled_{key}")
    if "shipped" in r:
        lines += render_shipped(r["shipped"])
    if "finetune" in r:
        lines += render_finetune(r)
    else:
        lines += [
        "Fine-tuning mode for every pooling was **not** run on this CPU: one LoRA fine-tuning epoch of MiniLM over "
        "train-clean took 8 to 47 min in bf16 on one thread of the shared CPU, depending on the load (the shipped model's "
        "run), per pooling; no GPU "
        "was lent to this task.", "",
    ]
    kept = _kept_throughput()
    if kept:
        lines += [kept]
    return "\n".join(lines)


def render_shipped(s: dict) -> list[str]:
    if "correct" not in s:  # a result from before this format
        return ["### The shipped model (bertkit/models/sentiment) on dev-sentences.tsv", "",
                f"Accuracy **{s['accuracy']:.4f}** on {s['examples']} sentences.", ""]
    lo, hi = wilson(np.array(s["correct"]))
    t = s["training"]
    storage = {"lora": "LoRA adapters", "delta": "what training changed, as deltas against the packaged encoder"}.get(s["adapter"], "the encoder")
    layers = "every layer and the embeddings" if t.get("train_layers") is None else f"the top {t['train_layers']} layers"
    recipe = (f"{s['pooling']} pooling, " + (f"LoRA rank {t['lora']}" if t.get("lora") else f"full fine-tuning of {layers}")
              + (f", stored as {t['delta']} deltas" if t.get("delta") else "")
              + f"; {t['epochs']} epochs at lr {t['lr']}, batch {t['batch_size']}, {t['dtype']}, seed {t['seed']}; epoch {s['best_epoch']} kept")
    return ["### The shipped model (bertkit/models/sentiment) on dev-sentences.tsv", "",
            f"Accuracy **{s['accuracy']:.4f}** [95% CI {lo:.3f}, {hi:.3f}] on {s['examples']} sentences, torch fp32 "
            f"(evaluation {s['seconds']:.1f} s); with the default backend \"auto\" on this CPU ({s['auto']}): {s['auto_accuracy']:.4f}. "
            f"Goal >= 90%: **{'met' if s['accuracy'] >= 0.9 else 'not met'}**. "
            f"Model: {recipe}; {s['bytes'] / 1e6:.2f} MB on disk ({storage}; limit 10 MB). "
            "Trained on train-clean.tsv and selected on dev-sentences.tsv (as the issue asks; the number is therefore "
            "the selected epoch's score, not an untouched test score). Training command and history: README, \"The shipped sentiment model\".", ""]


def _kept_throughput() -> str:
    """The throughput subsection of the last run (speed only: no dev data involved), kept verbatim."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else ""
    m = re.search(r"### Fine-tuning throughput.*?(?=<!-- /bench:classify -->)", text, re.S)
    old = "Command: `python bench/classify.py --throughput-only --steps 200`"
    note = ("Measured by an earlier version of this script (`python bench/classify.py --throughput-only --steps 200`, "
            "git history before issue 13) and not rerun: speed only, on train.tsv rows, no accuracy involved.")
    return m.group(0).strip().replace(old, note) if m else ""


def _load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def resampled(results: dict, args, command: str, saved: Path, log) -> None:
    """Features studies on further seeded subsamples (same size, other rows, folds and initialisation), one per seed
    ``args.seed + 1 ..``, saved as each ends; the main study (at ``args.seed``) is their first draw when rendered."""
    store = results.setdefault("resampled_" + _features_key(args.train_rows), {"draws": {}})
    for seed in range(args.seed + 1, args.seed + 1 + args.resamples):
        if str(seed) in store["draws"]:
            continue
        log(f"resample seed {seed}")
        store["draws"][str(seed)] = {**features_study(args.train_rows, seed, log), "load": _load_average()}
        store["command"], store["machine"] = command, machine()
        saved.write_text(json.dumps(results))
    if "l2_curve" not in store:
        store["l2_curve"] = l2_curve(args.train_rows, args.seed)
        saved.write_text(json.dumps(results))


def l2_curve(train_rows: int, seed: int, pooling: str = "mean") -> dict:
    """Dev accuracy of the exact logistic regression at every L2 of bertkit's grid, on one pooling's cached vectors
    (standardised with the training rows): how much the choice of the penalty can move the score."""
    from bertkit.classification.features import FeatureCache, extract_features, request_for
    from bertkit.classification.headtrain import feature_stats
    from bertkit.classification.logistic import L2_GRID, fit_logistic, logistic_logits
    from bertkit.classification.model import HeadSpec, PoolingHead
    from bertkit.classification.options import ClassifyData
    from bertkit.classification.train import load_training_data
    from bertkit.encoder.encoder import Encoder

    data = ClassifyData(train=str(SST2 / "train-clean.tsv"), dev=str(SST2 / "dev-sentences.tsv"), text_column="sentence",
                        max_train=train_rows or None, label_names="0=negative,1=positive")
    train, dev, label_map = load_training_data(data, seed)
    encoder = Encoder(None, device="cpu")
    request = request_for(PoolingHead(HeadSpec(pooling=pooling), encoder.hidden_size, encoder.num_layers, len(label_map)))
    cache = FeatureCache(ROOT / "runs" / "bench-cache")
    (f_train,), (f_dev,) = extract_features(encoder, train, [request], cache), extract_features(encoder, dev, [request], cache)
    mean, std = feature_stats(f_train.vectors)  # as train_head standardises
    x = ((torch.from_numpy(f_train.vectors) - mean) / std).double()
    x_dev = ((torch.from_numpy(f_dev.vectors) - mean) / std).double()
    y, y_dev = torch.from_numpy(label_map.encode(train.labels)).long(), label_map.encode(dev.labels)
    accuracy = {}
    for l2 in L2_GRID:
        fit = fit_logistic(x, y, len(label_map), l2)
        accuracy[l2] = float((logistic_logits(x_dev, fit.weight, fit.bias).argmax(1).numpy() == y_dev).mean())
    return {"pooling": pooling, "seed": seed, "accuracy": accuracy}


def render_resampled(r: dict, key: str) -> list[str]:
    """Per pooling: accuracy averaged over the draws, bertkit - LR per draw and on average, and how often bertkit >= LR."""
    store, main_study = r[key], r[key.removeprefix("resampled_")]
    by_seed = {**store["draws"], str(main_study.get("seed", 42)): main_study}  # studies from before the seed was recorded ran at 42
    draws = [by_seed[s] for s in sorted(by_seed, key=int)]
    seeds = ", ".join(sorted(by_seed, key=int))
    poolings = [row["pooling"] for row in draws[0]["rows"]]
    table = {p: [next(row for row in d["rows"] if row["pooling"] == p) for d in draws] for p in poolings}
    lines = [
        f"### Features mode against logistic regression, over {len(draws)} subsamples", "",
        f"Command: `{store.get('command', 'see above')}` (draws at seeds {seeds}; the first is the study above).  ",
        f"Each draw: another seeded {draws[0]['train_rows']:,}-row subsample of train-clean.tsv, with its own folds, held-out "
        "part and initialisation; both sides trained as above on the same cached vectors and scored on the same 1,000 "
        f"dev sentences. Machine: {store.get('machine', r['machine'])}. One draw decides little when the two sides are "
        "the same convex problem (see the L2 note below): the average over draws says whether a side is systematically ahead. "
        "The interval of the average difference is a paired bootstrap over the dev sentences of the draw-averaged "
        "correctness.", "",
        "| pooling | bertkit mean accuracy | LR mean accuracy | bertkit - LR per draw (points) | mean difference [95% CI] | draws with bertkit >= LR |",
        "|---|---:|---:|---|---:|---:|",
    ]
    wins_all = True
    for p in sorted(poolings, key=lambda q: -np.mean([np.mean(row["ours_correct"]) for row in table[q]])):
        ours = np.array([row["ours_correct"] for row in table[p]], dtype=float)  # (K, N)
        lr = np.array([row["lr_correct"] for row in table[p]], dtype=float)
        per_draw = (ours.mean(1) - lr.mean(1)) * 100
        lo, hi = paired_bootstrap(ours.mean(0), lr.mean(0))
        ahead = int((per_draw >= -1e-9).sum())
        wins_all &= per_draw.mean() >= 0
        lines.append(f"| {p} | {ours.mean():.4f} | {lr.mean():.4f} | {' '.join(f'{d:+.1f}' for d in per_draw)} | "
                     f"{per_draw.mean():+.2f} [{lo * 100:+.1f}, {hi * 100:+.1f}] | {ahead}/{len(draws)} |")
    lines += ["", f"bertkit >= LR on average over the draws, every pooling: **{'yes' if wins_all else 'no'}**.", ""]
    curve = store.get("l2_curve")
    if curve:
        acc = {float(k): v for k, v in curve["accuracy"].items()}
        lines += [f"L2 note: the exact logistic regression on {curve['pooling']} vectors (seed {curve['seed']}'s subsample), "
                  "dev accuracy at each penalty of bertkit's grid: "
                  + ", ".join(f"{k:.0e}: {v:.3f}" for k, v in sorted(acc.items()))
                  + f". Over the penalties cross-validation can pick (the top of the grid underfits) the score moves by up to "
                  f"{(max(v for k, v in acc.items() if k <= 0.1) - min(v for k, v in acc.items() if k <= 0.1)) * 100:.1f} points "
                  "without any change of method: the size of the single-draw differences above.", ""]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-rows", type=int, default=DEFAULT_TRAIN_ROWS, help="seeded subsample of train-clean.tsv (0: all)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-features", action="store_true", help="keep the last features results")
    ap.add_argument("--resamples", type=int, default=0, help="also run the features study on this many further seeded "
                    "subsamples (seeds SEED+1..SEED+K; kept per seed, so a rerun or a killed run only adds the missing ones)")
    ap.add_argument("--skip-shipped", action="store_true", help="keep the last shipped-model result")
    ap.add_argument("--finetune", default="", help="comma-separated poolings to fine-tune (e.g. attention,weighted_layer,mean); "
                    "'all': " + ",".join(FINETUNE_POOLINGS) + "; empty: keep the last fine-tuning results")
    ap.add_argument("--finetune-rows", type=int, default=10000, help="seeded subsample of train-clean.tsv for fine-tuning")
    ap.add_argument("--finetune-epochs", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    command = "python bench/classify.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    saved = ROOT / "runs" / "bench_classify.json"
    saved.parent.mkdir(exist_ok=True)
    results = json.loads(saved.read_text()) if saved.exists() else {}
    results["machine"] = machine()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    load = _load_average()
    if not args.skip_features:
        key = _features_key(args.train_rows)
        results[key] = {**features_study(args.train_rows, args.seed, log), "load": load}
        results[key + "_command"], results[key + "_machine"] = command, machine()
        saved.write_text(json.dumps(results))
    if args.resamples:
        resampled(results, args, command, saved, log)
    if args.finetune:
        poolings = list(FINETUNE_POOLINGS) if args.finetune == "all" else args.finetune.split(",")
        study = finetune_study(args.finetune_rows, args.finetune_epochs, poolings, args.seed, log)
        results["finetune"] = {**study, "load": load}
        results["finetune_command"], results["finetune_machine"] = command, machine()
        saved.write_text(json.dumps(results))
    if not args.skip_shipped:
        results["shipped"] = shipped_model()
        saved.write_text(json.dumps(results))
    write_section("classify", render(results, command))


if __name__ == "__main__":
    main()
