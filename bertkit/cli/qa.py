"""``bertkit qa``: train, evaluate and ask an extractive question-answering model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from bertkit.cli.ray_engine import AddressOpt, CpusOpt, EngineOpt, GpusOpt, ShardRowsOpt, WorkersOpt, run_ray, use_ray
from bertkit.cli.options import BackendOpt, BatchSizeOpt, DeviceOpt, EngineDtypeOpt, JsonOpt, err_console, finite, flags_for, job_progress, out_console, parse_train_layers, runtime_note, show_progress, ThreadsOpt
from bertkit.cli.signals import resume_hint
from bertkit.cli.qa_open import IndexOpt, PassagesOpt, RerankOpt, ask_over_index, evaluate_open_domain
from bertkit.cli.train_options import (
    BatchSizeTrainOpt, CheckpointEveryOpt, EpochsOpt, FreezeEpochsOpt, LayerLrDecayOpt, LrOpt, MaxGradNormOpt, MaxTrainOpt,
    PatienceOpt, ResumeOpt, SeedOpt, TrainDtypeOpt, WarmupRatioOpt, WeightDecayOpt, build_args, deprecated, flags_of,
)
from bertkit.engine.runtime import check_names
from bertkit.errors import InputError, UsageError
from bertkit.io.atomic import check_not_input, check_output

app = typer.Typer(
    help="Extractive question answering: find the answer span in a context (SQuAD 1.1/2.0).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

QAModelOpt = typer.Option(None, "--model", "-m", help="QA model directory (default: the packaged model, trained on SQuAD 2.0).")


def _existing_file(path: Path, option: str) -> Path:
    if not path.exists():
        raise InputError(f"{path}: no such file ({option})")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file ({option})")
    return path


@app.command("train")
def train_command(
    train: Path = typer.Option(..., "--train", help="SQuAD 1.1 or 2.0 JSON training file."),
    out: Path = typer.Option(..., "--out", "-o", help="Model directory to write (checkpoints go there too)."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="SQuAD JSON file evaluated after every epoch (best epoch kept)."),
    threshold_data: Optional[Path] = typer.Option(None, "--threshold-data", help="SQuAD 2.0 questions held out from training: the saved null threshold is the F1-best one there."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Base encoder directory (default: the packaged all-MiniLM-L6-v2)."),
    epochs: Optional[int] = EpochsOpt("2"),
    lr: Optional[float] = LrOpt("5e-5"),
    batch_size: Optional[int] = BatchSizeTrainOpt("32 windows"),
    weight_decay: float = WeightDecayOpt,
    warmup_ratio: float = WarmupRatioOpt,
    warmup: Optional[float] = typer.Option(None, "--warmup", hidden=True, callback=finite, help="Deprecated: --warmup-ratio."),
    max_grad_norm: float = MaxGradNormOpt,
    freeze_epochs: int = FreezeEpochsOpt,
    layer_lr_decay: float = LayerLrDecayOpt,
    patience: Optional[int] = PatienceOpt("off"),
    max_length: int = typer.Option(384, "--max-length", help="Tokens per window (question + context + special tokens)."),
    doc_stride: int = typer.Option(128, "--doc-stride", help="Tokens shared by consecutive windows of a long context."),
    max_question_length: int = typer.Option(64, "--max-question-length", help="Longer questions are cut (and counted)."),
    max_answer_length: int = typer.Option(30, "--max-answer-length", min=1, help="Longest answer in tokens (saved for decoding)."),
    train_layers: str = typer.Option("all", "--train-layers", help="'all', or train only the top N encoder layers (+ head): faster, and the model directory holds only those."),
    save_dtype: str = typer.Option("fp32", "--save-dtype", help="fp32, fp16 or bf16 for the saved tensors."),
    dtype: str = TrainDtypeOpt,
    device: str = DeviceOpt,
    seed: int = SeedOpt,
    resume: bool = ResumeOpt,
    init: Optional[Path] = typer.Option(None, "--init", help="Start from a trained QA model directory (same base), e.g. for another epoch."),
    threads: Optional[int] = ThreadsOpt,
    max_train: Optional[int] = MaxTrainOpt("the first N questions only"),
    limit: Optional[int] = typer.Option(None, "--limit", hidden=True, help="Deprecated: --max-train."),
    checkpoint_every: int = CheckpointEveryOpt,
    nproc: int = typer.Option(1, "--nproc", min=1, help="Train data-parallel in N local processes (torchrun + DDP)."),
) -> None:
    """Fine-tune an encoder + span head on SQuAD JSON (2.0 adds 'no answer')."""
    import torch

    from bertkit.distributed.torchrun import relaunch
    from bertkit.qa.features import check_lengths
    from bertkit.qa.modeldir import QAConfig
    from bertkit.qa.train import QATrainArgs, train_qa
    from bertkit.training.ddp import is_main

    if nproc > 1:
        raise typer.Exit(relaunch(nproc))

    _existing_file(train, "--train")
    for path, flag in ((dev, "--dev"), (threshold_data, "--threshold-data")):
        if path is not None:
            _existing_file(path, flag)
    check_output(out, "--out", directory=True)
    flags = dict(threshold_data="--threshold-data", weights_dtype="--save-dtype", init="--init",
                 max_length="--max-length", doc_stride="--doc-stride", max_question_length="--max-question-length")
    with flags_for(**flags):
        check_lengths(max_length, doc_stride, max_question_length)
    warmup_ratio = deprecated(warmup, "--warmup", warmup_ratio, "--warmup-ratio", new_default=0.1)
    max_train = deprecated(limit, "--limit", max_train, "--max-train")
    given = dict(epochs=epochs, lr=lr, batch_size=batch_size, patience=patience)
    args = build_args(
        QATrainArgs, flags, **{k: v for k, v in given.items() if v is not None}, weight_decay=weight_decay, warmup_ratio=warmup_ratio,
        max_grad_norm=max_grad_norm, freeze_epochs=freeze_epochs, layer_lr_decay=layer_lr_decay, dtype=dtype, seed=seed,
        train_layers=parse_train_layers(train_layers), weights_dtype=save_dtype, checkpoint_every=checkpoint_every, max_train=max_train,
        resume=resume, device=device, progress=show_progress(),
    )
    if threads is not None:
        torch.set_num_threads(threads)
    config = QAConfig(max_length=max_length, doc_stride=doc_stride, max_question_length=max_question_length, max_answer_length=max_answer_length)
    with resume_hint(out), flags_for(**{**flags_of(QATrainArgs), **flags}):
        outcome = train_qa(
            train, out, dev_path=dev, threshold_path=threshold_data, base=model, config=config, args=args, init=init,
            log=lambda m: err_console.print(m, markup=False),
        )
    result = outcome.result
    if not is_main():  # under torchrun rank 0 reports
        return
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file()) / 1e6
    err_console.print(f"saved {escape(str(out))} ({size:.1f} MB): {result.steps} steps, {result.examples} windows, {result.seconds / 60:.1f} min")
    if "null_threshold" in outcome.config.training:
        record = outcome.config.training["null_threshold"]
        err_console.print(f"null threshold {record['value']:.4g} chosen on {escape(record['data'])} (F1 there {record['f1']:.2f})")
    if outcome.dev is not None:
        out_console.print(_metrics_line(outcome.dev.metrics))


@app.command("calibrate")
def calibrate_command(
    model: Path = typer.Option(..., "--model", "-m", help="QA model directory (SQuAD 2.0) whose null threshold is set."),
    data: Path = typer.Option(..., "--data", help="SQuAD 2.0 questions held out from training (answerable and unanswerable)."),
    batch_size: int = BatchSizeOpt,
    device: str = DeviceOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the threshold, leave the directory as it is."),
) -> None:
    """Choose the F1-best null threshold on held-out questions and store it in the model directory."""
    from bertkit.qa.modeldir import load_qa_model
    from bertkit.qa.squad import read_squad
    from bertkit.qa.threshold import choose_null_threshold, write_null_threshold

    _existing_file(data, "--data")
    squad = read_squad(data)
    qa_model, config = load_qa_model(model, device=device)
    with flags_for(threshold_data="--data"):
        choice = choose_null_threshold(qa_model, config, squad, source=data.name, batch_size=batch_size)
    if not dry_run:
        write_null_threshold(model, choice)
    out_console.print(choice.describe() + ("" if dry_run else f"; saved in {escape(str(model))}"))


def _load(model: Optional[str], backend: str, dtype: str, device: str):
    """The Reader for the command's model and runtime flags."""
    from bertkit.qa.reader import load_reader

    with flags_for(dtype="--dtype"):
        return load_reader(model, backend=backend, dtype=dtype, device=device)


def _metrics_line(metrics: dict) -> str:
    keys = [k for k in ("exact_match", "exact", "f1", "HasAns_f1", "NoAns_f1", "best_f1", "best_f1_thresh") if k in metrics]
    return ", ".join(f"{k} {metrics[k]:.2f}" for k in keys)


@app.command("evaluate")
def evaluate_command(
    data: Path = typer.Option(..., "--data", help="SQuAD 1.1 or 2.0 JSON file with reference answers."),
    model: Optional[str] = QAModelOpt,
    out: Path = typer.Option(Path("."), "--out", "-o", help="Directory for predictions.json (and null_odds.json for 2.0)."),
    null_threshold: Optional[float] = typer.Option(None, "--null-threshold", callback=finite, help="Say 'no answer' when null score - best span score exceeds this (default: the model's)."),
    batch_size: int = BatchSizeOpt,
    backend: str = BackendOpt,
    dtype: str = EngineDtypeOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
    open_domain: bool = typer.Option(False, "--open", help="Open domain: ask each question of all the file's paragraphs (retrieve, read), beside the own-paragraph score."),
    index: Optional[Path] = typer.Option(None, "--index", help="With --open: retrieve from this index instead of one built from the file's paragraphs."),
    rerank: Optional[str] = RerankOpt,
    passages: int = PassagesOpt,
) -> None:
    """Score a QA model with the official SQuAD metric (v1.1 or v2.0, from the file); --open: over all its paragraphs."""
    _existing_file(data, "--data")
    if open_domain:  # bertkit/cli/qa_open.py
        check_names(backend, dtype)
        return evaluate_open_domain(data, _load(model, backend, dtype, device), index, rerank, passages, null_threshold=null_threshold,
                                    batch_size=batch_size, backend=backend, dtype=dtype, device=device, as_json=as_json)
    if index is not None or rerank is not None:
        raise UsageError("--index and --rerank go with --open")
    check_output(out, "--out", directory=True)
    check_names(backend, dtype)  # every cheap check first: a bad flag never loads torch
    for name in ("predictions.json", "null_odds.json"):
        check_not_input(out / name, "--out", data)
    from bertkit.qa.evaluate import write_predictions
    from bertkit.qa.squad import read_squad

    squad = read_squad(data)
    reader = _load(model, backend, dtype, device)
    with flags_for(dtype="--dtype"), job_progress(None, "answering", "window") as job:
        result = reader.evaluate(squad, batch_size=batch_size, null_threshold=null_threshold, progress=job)
    written = write_predictions(result, out)
    notes = [squad.summary()]
    if result.questions_truncated:
        notes.append(f"{result.questions_truncated} question(s) cut to {reader.config.max_question_length} tokens")
    err_console.print("; ".join(notes) + f"; wrote {escape(', '.join(str(p) for p in written))}; {runtime_note(reader.runtime)}")
    if result.int8_gate:
        gate = result.int8_gate
        err_console.print(f"int8 gate: F1 {gate['int8_f1']:.2f} vs torch fp32 {gate['fp32_f1']:.2f} "
                          f"({gate['fp32_f1'] - gate['int8_f1']:+.2f} points lost; at most {gate['max_drop_points']} allowed): passed")
    if as_json:
        out_console.print_json(json.dumps({**result.metrics, **({"int8_gate": result.int8_gate} if result.int8_gate else {})}))
        return
    table = Table(title=f"SQuAD {'2.0' if result.version_2 else '1.1'}: {escape(data.name)}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    out_console.print(table)


def _read_context(context: Optional[str], context_file: Optional[Path]) -> str:
    if context is not None and context_file is not None:
        raise UsageError("give either --context or --context-file, not both")
    if context_file is not None:
        _existing_file(context_file, "--context-file")
        try:
            return context_file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{context_file}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    if context is None:
        raise UsageError("--question needs a context: --context TEXT or --context-file FILE")
    return context


def _answer_dict(question: str, answer) -> dict:
    """One ReaderAnswer as the JSON object ``qa ask`` prints or writes."""
    found = not answer.no_answer
    return {
        "question": question,
        "answer": answer.text,
        "start": answer.start if found else None,
        "end": answer.end if found else None,
        "score": round(answer.score, 4) if found else None,
        "probability": round(answer.probability, 4) if found else None,
        "no_answer": answer.no_answer,
        "null_score": round(answer.null_score, 4),
        "candidates": [
            {"answer": c.text if not c.is_null else None, "start": c.start if not c.is_null else None,
             "end": c.end if not c.is_null else None, "score": round(c.score, 4), "probability": round(c.probability, 4)}
            for c in answer.candidates
        ],
    }


@app.command("ask")
def ask_command(
    question: Optional[str] = typer.Option(None, "--question", "-q", help="The question."),
    context: Optional[str] = typer.Option(None, "--context", "-c", help="The text that holds the answer."),
    context_file: Optional[Path] = typer.Option(None, "--context-file", help="Read the context from this UTF-8 file."),
    input: Optional[str] = typer.Option(None, "--input", "-i", help="Batch: .jsonl/.csv/.tsv with question and context fields (id optional)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Batch answers as JSONL (with --input)."),
    model: Optional[str] = QAModelOpt,
    top_k: int = typer.Option(1, "--top-k", "-k", min=1, help="Show the k best candidates."),
    null_threshold: Optional[float] = typer.Option(None, "--null-threshold", callback=finite, help="Say 'no answer' when null score - best span score exceeds this (default: the model's)."),
    explain: bool = typer.Option(False, "--explain", help="Start/end probabilities over the context tokens (table + PNG)."),
    plot: Path = typer.Option(Path("qa_explain.png"), "--plot", help="PNG written by --explain."),
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
    index: Optional[Path] = IndexOpt,
    rerank: Optional[str] = RerankOpt,
    passages: int = PassagesOpt,
) -> None:
    """Answer a question about a context (or a file of them), or over an index (--index); 'no answer' when that wins."""
    check_names(backend, dtype)
    if index is not None:  # retrieve, (rerank,) read: bertkit/cli/qa_open.py
        if context is not None or context_file is not None or input is not None:
            raise UsageError("--index answers from the index: leave out --context, --context-file and --input")
        return ask_over_index(question, index, rerank, passages, _load(model, backend, dtype, device), null_threshold=null_threshold,
                              batch_size=batch_size, backend=backend, dtype=dtype, device=device, as_json=as_json)
    if use_ray(engine):  # a corpus on Ray Data: OUTDIR of Parquet shards (bertkit.distributed)
        from bertkit.distributed.tasks import AnswerTask

        task = AnswerTask("question", "context", model, dict(backend=backend, dtype=dtype, device=device), null_threshold, batch_size)
        return run_ray(task, input, output, address, workers, cpus_per_worker, gpus_per_worker, shard_rows,
                       **{"--question": question, "--context": context, "--context-file": context_file, "--explain": explain,
                          "--json": as_json, "--top-k": top_k != 1})
    if input is not None:
        questions, contexts, records = _batch_inputs(input, output, question, context, context_file, explain)
    else:
        questions, contexts, records = _single_input(question, context, context_file, output)
        if explain:
            check_output(plot, "--plot")
            check_not_input(plot, "--plot", context_file)
    reader = _load(model, backend, dtype, device)
    with flags_for(top_k="--top-k"), job_progress(None, "answering", "window") as job:
        preds = reader.predictions(questions, contexts, n_best=max(20, top_k), null_threshold=null_threshold,
                                   batch_size=batch_size, progress=job if len(questions) > 1 else False)
    from bertkit.qa.reader import ReaderAnswer

    answers = [ReaderAnswer.from_decoded(d, top_k) for d in preds.decoded]
    if preds.questions_truncated:
        err_console.print(f"note: {preds.questions_truncated} question(s) longer than {reader.config.max_question_length} tokens were cut")
    if input is not None:
        _write_answers(output, records, questions, answers, reader)
    elif explain:
        _explain(reader, preds, questions[0], answers[0], plot, as_json)
    elif as_json:
        out_console.print_json(json.dumps(_answer_dict(questions[0], answers[0]), ensure_ascii=False))
    else:
        _print_answer(answers[0], top_k)


def _batch_inputs(input: str, output: Optional[Path], question, context, context_file, explain: bool):
    """(questions, contexts, records) from an --input file, after checking the flags that go with it."""
    from bertkit.io.readers import detect_format, read_records
    from bertkit.qa.predict import check_questions

    if question is not None or context is not None or context_file is not None:
        raise UsageError("--input reads questions and contexts from a file; leave out --question/--context/--context-file")
    if output is None:
        raise UsageError("--input needs --output FILE.jsonl for the answers")
    if output.suffix.lower() != ".jsonl":
        raise UsageError(f"--output {output}: answers are written as JSON lines; use a .jsonl file")
    check_output(output, "--output")
    check_not_input(output, "--output", input)
    if explain:
        raise UsageError("--explain works on one question (--question), not with --input")
    detect_format(input)
    records = read_records(input, ["question", "context"], optional=["id"])
    if not records:
        raise InputError(f"{input}: no questions found (empty input)")
    questions, contexts = check_questions(
        [r["question"] for r in records], [r["context"] for r in records], where=[f"{input}, line {r['_line']}" for r in records]
    )
    return questions, contexts, records


def _single_input(question: Optional[str], context: Optional[str], context_file: Optional[Path], output: Optional[Path]):
    """([question], [context], no records) from --question with --context or --context-file."""
    if output is not None:
        raise UsageError("--output is for batches; use it with --input")
    if question is None:
        raise UsageError("give --question (with --context or --context-file), or --input FILE for a batch")
    if not question.strip():
        raise UsageError("--question is empty")
    text = _read_context(context, context_file)
    if not text.strip():
        raise UsageError("the context is empty")
    return [question], [text], []


def _write_answers(output: Path, records: list[dict], questions: list[str], answers: list, reader) -> None:
    """The answers as JSON lines (with each record's id), written atomically."""
    from bertkit.io.atomic import atomic_path

    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for record, q, answer in zip(records, questions, answers):
            row = _answer_dict(q, answer)
            if "id" in record:
                row = {"id": record["id"], **row}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    unanswered = sum(a.no_answer for a in answers)
    err_console.print(f"wrote {escape(str(output))} ({len(questions)} answers, {unanswered} 'no answer'); {runtime_note(reader.runtime)}")


def _explain(reader, preds, question: str, answer, plot: Path, as_json: bool) -> None:
    """The answer, then start/end probabilities over the context tokens (table + PNG)."""
    from bertkit.qa.explain import plot_token_probabilities, token_probabilities

    probs = token_probabilities(preds, 0, reader.tokenizer)
    plot_token_probabilities(probs, plot, title=question)
    if as_json:
        out_console.print_json(json.dumps(_answer_dict(question, answer), ensure_ascii=False))
    else:
        _print_answer(answer, len(answer.candidates))
    _print_explain(probs)
    err_console.print(f"wrote {escape(str(plot))}")


def _print_answer(answer, top_k: int) -> None:
    if answer.no_answer:
        best = next((c for c in answer.candidates if not c.is_null), None)
        detail = f"; best span {best.text!r} scores {best.score:.2f}" if best else ""
        out_console.print(f"no answer (null score {answer.null_score:.2f}{escape(detail)})")
    else:
        out_console.print(
            f"{escape(answer.text)}  [dim](characters {answer.start}-{answer.end}, score {answer.score:.2f}, p={answer.probability:.2f})[/dim]"
        )
    if top_k > 1:
        table = Table()
        for col in ("rank", "answer", "start", "end", "score", "probability"):
            table.add_column(col, justify="left" if col == "answer" else "right")
        for rank, c in enumerate(answer.candidates[:top_k], 1):
            table.add_row(
                str(rank), escape(c.text) if not c.is_null else "(no answer)", "" if c.is_null else str(c.start),
                "" if c.is_null else str(c.end), f"{c.score:.2f}", f"{c.probability:.3f}",
            )
        out_console.print(table)


def _print_explain(probs, rows: int = 15) -> None:
    order = sorted(range(len(probs.tokens)), key=lambda i: -max(probs.start[i], probs.end[i]))[:rows]
    table = Table(title=f"Start/end probabilities: the {len(order)} most likely of {len(probs.tokens)} context tokens")
    for col in ("token", "chars", "p(start)", "p(end)"):
        table.add_column(col, justify="left" if col == "token" else "right")
    for i in sorted(order):
        table.add_row(escape(probs.tokens[i]), f"{probs.spans[i][0]}-{probs.spans[i][1]}", f"{probs.start[i]:.3f}", f"{probs.end[i]:.3f}")
    out_console.print(table)
