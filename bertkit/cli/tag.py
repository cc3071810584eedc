"""``bertkit tag``: train, evaluate and run named-entity taggers on CoNLL data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from bertkit.cli.options import DeviceOpt, JsonOpt, MaxLengthOpt, ThreadsOpt, err_console, finite, flags_for, job_progress, out_console, runtime_note, show_progress
from bertkit.cli.signals import resume_hint
from bertkit.cli.train_options import (
    BatchSizeTrainOpt, CheckpointEveryOpt, EpochsOpt, FreezeEpochsOpt, LayerLrDecayOpt, LrOpt, MaxGradNormOpt, MaxTrainOpt,
    PatienceOpt, ResumeOpt, SeedOpt, TrainDtypeOpt, WarmupRatioOpt, WeightDecayOpt, build_args, flags_of,
)
from bertkit.errors import UsageError
from bertkit.io.atomic import check_not_input, check_output

app = typer.Typer(
    help="Token classification (NER): train on CoNLL files, evaluate entity F1, tag texts.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

TaggerOpt = typer.Option(None, "--model", "-m", help="Tagger directory written by bertkit tag train.")
TagBackendOpt = typer.Option("auto", "--backend", help="auto (the fastest that keeps the outputs here), torch, or onnx (the encoder pass on ONNX Runtime).")
TagDtypeOpt = typer.Option("auto", "--dtype", help="auto; torch: fp32, bf16, fp16 (GPU); onnx: fp32 (no int8 tagger).")


def _log(message: str) -> None:
    err_console.print(message, markup=False)


@app.command("train")
def train_command(
    train: str = typer.Option(..., "--train", help="CoNLL file: token<TAB>tag per line, blank line between sentences."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
    dev: Optional[str] = typer.Option(None, "--dev", help="Dev CoNLL file (default: a seeded 10% of --train)."),
    mode: str = typer.Option("features", "--mode", help="features (frozen encoder, cached vectors, BiLSTM) or finetune (encoder trained too)."),
    head: Optional[str] = typer.Option(None, "--head", help="linear, crf, bilstm or bilstm-crf (default: features bilstm-crf, finetune linear)."),
    model: Optional[str] = typer.Option(None, "--base", "--model", help="Base encoder directory (default: the packaged all-MiniLM-L6-v2, uncased)."),
    layers: str = typer.Option("-1", "--layers", help="Encoder layers read: -1, -2, 0, -4:, -1,-2, all."),
    layer_combine: str = typer.Option("mean", "--layer-combine", help="mean, sum, concat or weighted (learned scalar mix)."),
    subword: str = typer.Option("first", "--subword", help="Word vector from its pieces: first, last, first_last or mean."),
    epochs: Optional[int] = EpochsOpt("features 20, finetune 3"),
    lr: Optional[float] = LrOpt("features 1e-3, finetune 5e-5"),
    batch_size: Optional[int] = BatchSizeTrainOpt("features 32, finetune 16 sentences"),
    dropout: Optional[float] = typer.Option(None, "--dropout", callback=finite, help="Dropout in [0, 1) (default: features 0.5, finetune 0.1)."),
    lstm_hidden: int = typer.Option(256, "--lstm-hidden", help="BiLSTM hidden units per direction."),
    warmup_ratio: float = WarmupRatioOpt,
    weight_decay: float = WeightDecayOpt,
    max_grad_norm: float = MaxGradNormOpt,
    layer_lr_decay: float = LayerLrDecayOpt,
    freeze_epochs: int = FreezeEpochsOpt,
    dtype: str = TrainDtypeOpt,
    patience: Optional[int] = PatienceOpt("features 5, finetune off"),
    max_length: Optional[int] = MaxLengthOpt,
    max_train: Optional[int] = MaxTrainOpt("a seeded random subsample of this many sentences"),
    seed: int = SeedOpt,
    resume: bool = ResumeOpt,
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="features: vector cache (default $BERTKIT_CACHE/contextual)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="features: do not read or write the vector cache."),
    checkpoint_every: int = CheckpointEveryOpt,
    threads: Optional[int] = ThreadsOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Train a tagger; writes the model directory, history.json and training_curves.png."""
    from bertkit.tagging.options import TagTrainOptions
    from bertkit.tagging.train import train_tagger

    opts = build_args(
        TagTrainOptions, None, train=train, out=str(out), dev=dev, mode=mode, head=head, model=model, layers=layers, layer_combine=layer_combine,
        subword=subword, epochs=epochs, lr=lr, batch_size=batch_size, dropout=dropout, lstm_hidden=lstm_hidden,
        warmup_ratio=warmup_ratio, weight_decay=weight_decay, max_grad_norm=max_grad_norm, layer_lr_decay=layer_lr_decay,
        freeze_epochs=freeze_epochs, dtype=dtype, patience=patience, max_length=max_length, max_train=max_train, seed=seed,
        resume=resume, cache_dir=str(cache_dir) if cache_dir else None, no_cache=no_cache, device=device,
        checkpoint_every=checkpoint_every, progress=show_progress(),
    )
    check_output(out, "--out", directory=True)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    with resume_hint(out), flags_for(**flags_of(TagTrainOptions)):
        report = train_tagger(opts, log=_log)
    if as_json:
        print(json.dumps({"out": str(report.out), "labels": report.labels, "train_size": report.train_size, "dev_size": report.dev_size,
                          "best_epoch": report.best_epoch, "seconds": round(report.seconds, 2), "dev": report.report}))
        return
    _print_report(report.report, f"dev entities ({report.dev_size} sentences, best epoch {report.best_epoch})")
    out_console.print(f"model saved to {escape(str(report.out))} ({report.seconds:.1f} s)")


def _print_report(report: dict, title: str) -> None:
    table = Table(title=escape(title))
    for col in ("type", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "type" else "right")
    for kind, m in list(report["per_type"].items()) + [("micro", report["micro"])]:
        table.add_row(escape(kind), f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", str(m["support"]))
    out_console.print(table)


@app.command("evaluate")
def evaluate_command(
    data: str = typer.Option(..., "--data", help="CoNLL file with gold tags."),
    model: Optional[str] = TaggerOpt,
    batch_size: int = typer.Option(64, "--batch-size", "-b", min=1, help="Sentences per batch."),
    backend: str = TagBackendOpt,
    dtype: str = TagDtypeOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Entity precision, recall and F1 per type and micro (conlleval-style and strict)."""
    from bertkit.tagging.conll import read_conll
    from bertkit.tagging.tagger import load_tagger

    gold = read_conll(data)
    tagger = load_tagger(model, backend=backend, dtype=dtype, device=device)
    with job_progress(len(gold), "tagging", unit="sentence") as job:
        report = tagger.evaluate(gold, batch_size=batch_size, progress=job)
    if as_json:
        print(json.dumps(report))
        return
    _print_report(report["conlleval"], f"{report['sentences']} sentences, conlleval-style")
    err_console.print(runtime_note(tagger.runtime), markup=False)
    strict = report["strict"]["micro"]
    out_console.print(f"strict {tagger.config.spec.scheme}: precision {strict['precision']:.4f}, recall {strict['recall']:.4f}, F1 {strict['f1']:.4f}")


@app.command("predict")
def predict_command(
    texts: Optional[list[str]] = typer.Argument(None, help="Texts to tag (or use --input)."),
    model: Optional[str] = TaggerOpt,
    input: Optional[str] = typer.Option(None, "--input", "-i", help="Texts, one per line (.txt), or - for stdin."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write entities as JSONL (one line per text)."),
    batch_size: int = typer.Option(64, "--batch-size", "-b", min=1, help="Texts per batch."),
    backend: str = TagBackendOpt,
    dtype: str = TagDtypeOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Entities (type, text, character start/end, score) in each text."""
    import sys

    from bertkit.io.atomic import atomic_write_text
    from bertkit.tagging.tagger import load_tagger

    if bool(texts) == bool(input):
        raise UsageError("give texts as arguments or --input FILE (exactly one of the two)")
    if output is not None and output.suffix.lower() != ".jsonl":
        raise UsageError(f"--output {output}: unsupported extension {output.suffix or '(none)'!r}; valid: .jsonl")
    if output is not None:
        check_output(output, "--output")
        check_not_input(output, "--output", input)
    if input:
        texts = _read_lines(input, sys.stdin)
    tagger = load_tagger(model, backend=backend, dtype=dtype, device=device)
    with job_progress(len(texts), "tagging") as job:
        entities = tagger.predict(texts, batch_size=batch_size, progress=job)
    rows = [{"text": t, "entities": [e.to_dict() for e in ents]} for t, ents in zip(texts, entities)]
    if output is not None:
        atomic_write_text(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        err_console.print(f"wrote entities of {len(rows)} texts to {escape(str(output))}; {escape(runtime_note(tagger.runtime))}")
        return
    if as_json or input:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    table = Table()
    for col in ("text", "entity", "type", "start", "end", "score"):
        table.add_column(col, overflow="fold", justify="right" if col in ("start", "end", "score") else "left")
    for row in rows:
        if not row["entities"]:
            table.add_row(escape(row["text"]), "-", "", "", "", "")
        for i, e in enumerate(row["entities"]):
            table.add_row(escape(row["text"]) if i == 0 else "", escape(e["text"]), escape(e["type"]), str(e["start"]), str(e["end"]), f"{e['score']:.3f}")
    out_console.print(table)


def _read_lines(path: str, stdin) -> list[str]:
    from bertkit.errors import InputError

    if path == "-":
        lines = stdin.read().splitlines()
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{path}: no such file")
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise InputError(f"{path}: no text lines")
    return lines
