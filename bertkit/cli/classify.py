"""``bertkit classify``: train, evaluate and predict with text classifiers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from bertkit.cli.ray_engine import AddressOpt, CpusOpt, EngineOpt, GpusOpt, ShardRowsOpt, WorkersOpt, run_ray, use_ray
from bertkit.cli.options import BackendOpt, BatchSizeOpt, DeviceOpt, EngineDtypeOpt, JsonOpt, MaxLengthOpt, err_console, finite, flags_for, job_progress, out_console, parse_train_layers, runtime_note, show_progress, ThreadsOpt
from bertkit.cli.signals import resume_hint
from bertkit.cli.train_options import (
    BatchSizeTrainOpt, CheckpointEveryOpt, EpochsOpt, FreezeEpochsOpt, LayerLrDecayOpt, LrOpt, MaxGradNormOpt, MaxTrainOpt,
    PatienceOpt, ResumeOpt, SeedOpt, TrainDtypeOpt, TrainLayersOpt, WarmupRatioOpt, WeightDecayOpt,
)
from bertkit.engine.runtime import check_names
from bertkit.errors import UsageError
from bertkit.io.atomic import check_not_input, check_output

app = typer.Typer(
    help="Text classification: fine-tune or train on cached features, evaluate, predict.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ClassifierOpt = typer.Option(None, "--model", "-m", help="Classifier directory (default: the shipped SST-2 sentiment model).")
TextColumnOpt = typer.Option("text", "--text-column", help="Column (or JSON field) with the text.")
PairColumnOpt = typer.Option(None, "--pair-column", help="Column with a second text, for sentence-pair tasks.")
LabelColumnOpt = typer.Option("label", "--label-column", help="Column with the label (strings or integers).")
PREDICT_FLAGS = dict(top_k="--top-k", pairs="--pair-column", output="--output", explain="--explain", dtype="--dtype")


def _log(message: str) -> None:
    err_console.print(message, markup=False)


@app.command("train")
def train_command(
    train: str = typer.Option(..., "--train", help="Training data: .csv/.tsv with a header, or .jsonl."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
    dev: Optional[str] = typer.Option(None, "--dev", help="Dev data (same columns); default: --dev-split 0.1 of --train."),
    dev_split: Optional[float] = typer.Option(None, "--dev-split", callback=finite, help="Fraction of --train held out as dev (stratified, seeded)."),
    mode: str = typer.Option("finetune", "--mode", help="finetune (whole model end to end) or features (frozen encoder, cached features, light head)."),
    pooling: str = typer.Option("mean", "--pooling", "-p", help="cls, pooler, mean, max, min, mean_sqrt_len, weighted_layer, attention, a+b, or all (one model each + ensemble)."),
    model: Optional[str] = typer.Option(None, "--base", "--model", help="Base encoder directory (default: the packaged all-MiniLM-L6-v2)."),
    text_column: str = TextColumnOpt,
    pair_column: Optional[str] = PairColumnOpt,
    label_column: str = LabelColumnOpt,
    label_names: Optional[str] = typer.Option(None, "--label-names", help="Rename raw labels, e.g. 0=negative,1=positive."),
    epochs: Optional[int] = EpochsOpt("finetune 3, features 30"),
    lr: Optional[float] = LrOpt("finetune 3e-5, with --lora 5e-4, features 1e-3"),
    batch_size: Optional[int] = BatchSizeTrainOpt("finetune 32, features 128"),
    weight_decay: float = WeightDecayOpt,
    warmup_ratio: float = WarmupRatioOpt,
    max_grad_norm: float = MaxGradNormOpt,
    freeze_epochs: int = FreezeEpochsOpt,
    layer_lr_decay: float = LayerLrDecayOpt,
    dtype: str = TrainDtypeOpt,
    patience: Optional[int] = PatienceOpt("2"),
    dropout: float = typer.Option(0.1, "--dropout", callback=finite, help="Dropout before the classifier layer."),
    hidden: int = typer.Option(0, "--hidden", help="Head MLP hidden size (0: a linear layer)."),
    head: str = typer.Option("linear", "--head", help="linear, mlp (--hidden, default 256), or with --mode features bilstm / cnn (networks over cached token states)."),
    layers: str = typer.Option("-1", "--layers", help="Hidden layer(s) the pooling reads: -1, -4:, -1,-2, all."),
    layer_start: Optional[int] = typer.Option(None, "--layer-start", help="weighted_layer: first layer mixed (default L/2)."),
    max_length: Optional[int] = MaxLengthOpt,
    lora: int = typer.Option(0, "--lora", help="finetune with LoRA adapters of this rank (0: full fine-tuning); stores only adapters."),
    train_layers: str = TrainLayersOpt,
    delta: Optional[str] = typer.Option(None, "--delta", help="Store the fine-tuned encoder as fp16, int8 or int4 deltas against the packaged base (a few MB instead of 90)."),
    max_train: Optional[int] = MaxTrainOpt("a seeded random subsample of this many rows"),
    seed: int = SeedOpt,
    resume: bool = ResumeOpt,
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Feature cache (default $BERTKIT_CACHE/features or ~/.cache/bertkit/features)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Features mode: do not read or write the feature cache."),
    checkpoint_every: int = CheckpointEveryOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
    nproc: int = typer.Option(1, "--nproc", min=1, help="Train data-parallel in N local processes (torchrun + DDP; finetune mode)."),
    threads: Optional[int] = ThreadsOpt,
) -> None:
    """Train a classifier (one pooling, or --pooling all with a soft-voting ensemble)."""
    from bertkit.classification.options import ClassifyData, HeadOptions, RunOptions, option_flags
    from bertkit.classification.train import train_classifier
    from bertkit.distributed.torchrun import relaunch
    from bertkit.training.ddp import is_main

    if nproc > 1:
        raise typer.Exit(relaunch(nproc))
    check_output(out, "--out", directory=True)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    with flags_for(**option_flags()):  # the library names parameters (max_train), the CLI its flags (--max-train)
        data = ClassifyData(train=train, dev=dev, dev_split=dev_split, text_column=text_column, pair_column=pair_column,
                            label_column=label_column, label_names=label_names, max_train=max_train)
        head_opts = HeadOptions(mode=mode, pooling=pooling, layers=layers, layer_start=layer_start, head=head, hidden=hidden,
                                dropout=dropout, lora=lora, train_layers=parse_train_layers(train_layers), delta=delta, max_length=max_length)
        run = RunOptions(
            epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay, warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm,
            freeze_epochs=freeze_epochs, layer_lr_decay=layer_lr_decay, dtype=dtype, patience=patience, seed=seed, resume=resume,
            cache_dir=str(cache_dir) if cache_dir else None, no_cache=no_cache, device=device, checkpoint_every=checkpoint_every,
            progress=show_progress(),
        ).for_head(head_opts)
    with resume_hint(out), flags_for(**option_flags()):
        report = train_classifier(data, str(out), head_opts, run, model=model, log=_log)
    if not is_main():  # under torchrun rank 0 reports
        return
    if as_json:
        print(json.dumps({"out": str(report.out), "labels": report.labels, "train_size": report.train_size,
                          "dev_size": report.dev_size, "seconds": round(report.seconds, 2), "models": report.rows}))
        return
    table = Table(title=f"dev results ({report.dev_size} examples)")
    for col in ("pooling", "accuracy", "macro-F1", "best epoch", "train time (s)"):
        table.add_column(col, justify="left" if col == "pooling" else "right")
    for row in report.rows:
        table.add_row(escape(row["pooling"]), f"{row['accuracy']:.4f}", f"{row['macro_f1']:.4f}",
                      str(row["best_epoch"] or "-"), f"{row['seconds']:.1f}")
    out_console.print(table)
    extra = f"; comparison chart {report.out / 'comparison.png'}" if len(report.rows) > 1 else ""
    out_console.print(f"model saved to {escape(str(report.out))} ({report.seconds:.1f} s){escape(extra)}")


@app.command("compact")
def compact_command(
    model: Path = typer.Option(..., "--model", "-m", help="A fully fine-tuned classifier on the packaged encoder (its directory holds encoder/)."),
    out: Path = typer.Option(..., "--out", "-o", help="New directory for the compact model."),
    delta: str = typer.Option("int8", "--delta", help="fp16, int8 or int4 deltas against the packaged all-MiniLM-L6-v2."),
) -> None:
    """Store a fully fine-tuned classifier as deltas against the packaged encoder (MBs instead of 90)."""
    from bertkit.classification.compact import compact_classifier
    from bertkit.io.files import tree_bytes

    check_output(out, "--out", directory=True)
    with flags_for(model="--model", out="--out"):
        directory = compact_classifier(model, out, delta)
    out_console.print(f"compact model saved to {escape(str(directory))} ({tree_bytes(directory) / 1e6:.1f} MB; {escape(str(model))}: "
                      f"{tree_bytes(model) / 1e6:.1f} MB). "
                      f"Check it: bertkit classify evaluate --model {escape(str(directory))} --data DEV")


@app.command("ensemble")
def ensemble_command(
    models: list[Path] = typer.Argument(..., help="Two or more classifier directories with the same labels."),
    out: Path = typer.Option(..., "--out", "-o", help="New directory for the ensemble (members are copied into it)."),
) -> None:
    """Build a soft-voting ensemble (mean of the members' probabilities) from trained classifiers."""
    from bertkit.classification.ensemble import build_ensemble
    from bertkit.classification.modeldir import read_verified

    check_output(out, "--out", directory=True)
    with flags_for(out="--out"):
        directory = build_ensemble(models, out)
    config = read_verified(directory)
    names = ", ".join(Path(m).name for m in config.members)
    err_console.print(f"saved an ensemble of {len(config.members)} members ({escape(names)}) to {escape(str(directory))}; "
                      f"score it with: bertkit classify evaluate --model {escape(str(directory))} --data FILE")


@app.command("evaluate")
def evaluate_command(
    data: str = typer.Option(..., "--data", help="Labelled data: .csv/.tsv with a header, or .jsonl."),
    model: Optional[str] = ClassifierOpt,
    text_column: str = TextColumnOpt,
    pair_column: Optional[str] = PairColumnOpt,
    label_column: str = LabelColumnOpt,
    plots: Optional[Path] = typer.Option(None, "--plots", help="Directory for confusion_matrix.png."),
    batch_size: int = BatchSizeOpt,
    backend: str = BackendOpt,
    dtype: str = EngineDtypeOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix."""
    from bertkit.io.readers import detect_format

    check_names(backend, dtype)  # every cheap check first: a bad flag never loads torch
    detect_format(data)
    if plots is not None:
        check_output(plots, "--plots", directory=True)
        check_not_input(plots / "confusion_matrix.png", "--plots", data)
    from bertkit.classification.classifier import load_classifier
    from bertkit.classification.evaluate import evaluate_classifier
    from bertkit.classification.plots import plot_confusion

    classifier = load_classifier(model, device=device, dtype=dtype, backend=backend)
    with flags_for(**PREDICT_FLAGS), job_progress(None, "classifying") as job:
        report = evaluate_classifier(classifier, data, text_column=text_column, label_column=label_column,
                                     pair_column=pair_column, batch_size=batch_size, progress=job)
    err_console.print(runtime_note(classifier.runtime))
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
        report["confusion_png"] = str(plot_confusion(report["confusion"], report["labels"], plots / "confusion_matrix.png"))
    if as_json:
        print(json.dumps(report))
        return
    out_console.print(f"{report['examples']} examples: accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}")
    if "int8_gate" in report:
        gate = report["int8_gate"]
        drop = 100 * (gate["fp32_accuracy"] - gate["int8_accuracy"])
        out_console.print(f"int8 gate: accuracy {gate['int8_accuracy']:.4f} vs torch fp32 {gate['fp32_accuracy']:.4f} "
                          f"({drop:+.2f} points lost; at most {gate['max_drop_points']} allowed): passed")
    table = Table(title="per class")
    for col in ("label", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, m in report["per_class"].items():
        table.add_row(escape(label), f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", str(m["support"]))
    out_console.print(table)
    confusion = Table(title="confusion matrix (rows: true, columns: predicted)")
    confusion.add_column("")
    for label in report["labels"]:
        confusion.add_column(escape(label), justify="right")
    for label, row in zip(report["labels"], report["confusion"]):
        confusion.add_row(escape(label), *[str(v) for v in row])
    out_console.print(confusion)
    if plots is not None:
        out_console.print(f"wrote {escape(report['confusion_png'])}")


@app.command("predict")
def predict_command(
    texts: Optional[list[str]] = typer.Argument(None, help="Texts to classify (or use --input)."),
    model: Optional[str] = ClassifierOpt,
    input: Optional[str] = typer.Option(None, "--input", "-i", help="Texts: .txt (one per line), .csv/.tsv/.jsonl, or - for stdin."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write predictions to .jsonl, .csv or .tsv."),
    text_column: str = TextColumnOpt,
    pair_column: Optional[str] = PairColumnOpt,
    top_k: int = typer.Option(1, "--top-k", "-k", help="Labels shown per text, best first."),
    explain: bool = typer.Option(False, "--explain", help="A weight per token (a table; a PNG with --plot): attention-pooling weights, or for other models occlusion (the label's log-odds drop without the token)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="With --explain: also draw the weights to this PNG (several texts: FILE_1.png, FILE_2.png, ...)."),
    batch_size: int = BatchSizeOpt,
    backend: str = BackendOpt,
    dtype: str = EngineDtypeOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
    engine: str = EngineOpt,
    address: Optional[str] = AddressOpt,
    workers: Optional[int] = WorkersOpt,
    cpus_per_worker: float = CpusOpt,
    gpus_per_worker: float = GpusOpt,
    shard_rows: int = ShardRowsOpt,
) -> None:
    """Label and probabilities for each text."""
    check_names(backend, dtype)  # every cheap check first: a bad flag never loads torch
    if use_ray(engine):  # a corpus on Ray Data: OUTDIR of Parquet shards (bertkit.distributed)
        from bertkit.distributed.tasks import ClassifyTask

        task = ClassifyTask(text_column, pair_column, model, dict(backend=backend, dtype=dtype, device=device), batch_size)
        return run_ray(task, input, output, address, workers, cpus_per_worker, gpus_per_worker, shard_rows,
                       **{"TEXT arguments": bool(texts), "--explain": explain, "--json": as_json, "--top-k": top_k != 1})
    texts, pairs = _predict_inputs(texts, input, output, text_column, pair_column, top_k)
    if output is not None:
        check_output(output, "--output")
        check_not_input(output, "--output", input)
    if plot is not None and not explain:
        raise UsageError("--plot needs --explain (it draws the explanation's weights)")
    plot_files = _plot_files(plot, len(texts)) if plot is not None else []
    for file in plot_files:
        check_output(file, "--plot")
        check_not_input(file, "--plot", input)
    from bertkit.io.predictions import write_predictions

    classifier = None
    if not explain and pairs is None:  # a warm ONNX cache: the same predictions without torch (bertkit.classification.warm)
        from bertkit.classification.warm import warm_classifier

        classifier = warm_classifier(model, backend=backend, dtype=dtype, device=device)
    if classifier is None:
        from bertkit.classification.classifier import load_classifier

        classifier = load_classifier(model, device=device, dtype=dtype, backend=backend)
    if explain:
        with flags_for(**PREDICT_FLAGS):
            _explain(classifier, texts, pairs, plot_files, as_json)
        return
    with flags_for(**PREDICT_FLAGS), job_progress(None, "classifying") as job:
        predictions = classifier.predict(texts, pairs, top_k=top_k, batch_size=batch_size, progress=job)
    multi = bool(getattr(classifier, "multi_label", False))  # every label over 0.5 is predicted: say which ("labels")
    rows = [{"text": t, "label": p.label, **({"labels": list(p.labels)} if multi else {}),
             "top": [{"label": lab, "probability": round(v, 6)} for lab, v in p.top]} for t, p in zip(texts, predictions)]
    if output is not None:
        write_predictions(output, rows)
        err_console.print(f"wrote {len(rows)} predictions to {escape(str(output))}; {runtime_note(classifier.runtime)}")
        return
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    table = Table()
    table.add_column("text", overflow="fold")
    table.add_column("label")
    table.add_column("probability" if top_k == 1 else f"top {top_k}", justify="right")
    for row in rows:
        table.add_row(escape(row["text"]), escape(", ".join(row["labels"]) if multi else row["label"]), escape(", ".join(f"{t['label']} {t['probability']:.3f}" for t in row["top"])))
    out_console.print(table)


def _predict_inputs(texts, input, output, text_column: str, pair_column, top_k: int):
    """(texts, pairs) from the arguments or --input, after checking the flags that go with them."""
    from bertkit.classification.data import read_texts_for_prediction
    from bertkit.io.predictions import check_prediction_path
    from bertkit.io.readers import detect_format

    if bool(texts) == bool(input):
        raise UsageError("give texts as arguments or --input FILE (exactly one of the two)")
    if top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {top_k}")
    if output is not None:
        with flags_for(**PREDICT_FLAGS):
            check_prediction_path(output)
    if pair_column and not input:
        raise UsageError("--pair-column needs --input FILE")
    if input:
        detect_format(input)
        data = read_texts_for_prediction(input, text_column, pair_column)
        return data.texts, data.pairs
    for i, t in enumerate(texts):
        if not t.strip():
            raise UsageError(f"text {i + 1} is empty")
    return texts, None


# explanation method -> (table title, plot axis)
WEIGHT_NAMES = {"attention": ("attention-pooling weight per token", "attention weight"),
                "occlusion": ("occlusion: how much the label's log-odds drop without each token", "log-odds drop")}


def _plot_files(plot: Path, count: int) -> list[Path]:
    """``--plot why.png``: that file for one text; why_1.png, why_2.png, ... for several."""
    if plot.suffix.lower() != ".png":
        raise UsageError(f"--plot {plot}: give a .png file name")
    if count == 1:
        return [plot]
    return [plot.with_name(f"{plot.stem}_{i}{plot.suffix}") for i in range(1, count + 1)]


def _explain(classifier, texts: list[str], pairs, plot_files: list[Path], as_json: bool) -> None:
    from bertkit.classification.plots import plot_token_weights

    explanations = [classifier.explain(t, pairs[i] if pairs else None) for i, t in enumerate(texts)]
    for i, (text, ex) in enumerate(zip(texts, explanations)):
        png = None
        if plot_files:  # only when asked: nothing lands in the current directory unasked
            plot_files[i].parent.mkdir(parents=True, exist_ok=True)
            png = plot_token_weights(ex.tokens, ex.weights, plot_files[i], title=f"{ex.prediction.label}: {text[:60]}",
                                     ylabel=WEIGHT_NAMES[ex.method][1])
        if as_json:
            row = {"text": text, "label": ex.prediction.label, "probabilities": ex.prediction.probabilities, "method": ex.method,
                   "tokens": ex.tokens, "weights": [round(w, 6) for w in ex.weights]}
            print(json.dumps({**row, "png": str(png)} if png else row, ensure_ascii=False))
            continue
        probs = ", ".join(f"{k} {v:.3f}" for k, v in ex.prediction.probabilities.items())
        out_console.print(escape(f"{text}\n  -> {ex.prediction.label} ({probs})"))
        table = Table(title=WEIGHT_NAMES[ex.method][0])
        table.add_column("token")
        table.add_column("weight", justify="right")
        table.add_column("")
        top = max(abs(w) for w in ex.weights)
        for tok, w in zip(ex.tokens, ex.weights):
            table.add_row(escape(tok), f"{w:.3f}", ("#" if w >= 0 else "-") * round(20 * abs(w) / top) if top > 0 else "")
        out_console.print(table)
        if png is not None:
            out_console.print(f"wrote {escape(str(png))}")
