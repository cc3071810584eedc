"""``bertkit rerank``: train, evaluate and run a cross-encoder reranker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from bertkit.cli.options import BackendOpt, BatchSizeOpt, DeviceOpt, EngineDtypeOpt, JsonOpt, ThreadsOpt, err_console, finite, flags_for, out_console, parse_train_layers, runtime_note, show_progress
from bertkit.cli.signals import resume_hint
from bertkit.cli.train_options import (BatchSizeTrainOpt, CheckpointEveryOpt, EpochsOpt, LrOpt, MaxGradNormOpt, PatienceOpt, ResumeOpt, SeedOpt,
                                       WarmupRatioOpt, WeightDecayOpt, build_args, deprecated)
from bertkit.engine.runtime import check_names
from bertkit.errors import InputError, UsageError
from bertkit.io.atomic import check_output

app = typer.Typer(
    help="Rerank passages for a query with a cross-encoder: train, evaluate, rank.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RerankModelOpt = typer.Option(None, "--model", "-m", help="Reranker directory, or a sentence-transformers CrossEncoder directory (default: the shipped reranker).")
SquadOpt = typer.Option(None, "--squad", help="SQuAD JSON file(s): each question's paragraph is its positive, negatives are mined (repeat for several files).")
_FLAGS = dict(pooling="--pooling", loss="--loss", delta="--delta", model="--base", max_length="--max-length",
              train_layers="--train-layers", negatives="--negatives", miner="--miners", dev_articles="--dev-articles", train="--train",
              top_k="--top-k")


def _file(path: Path, option: str) -> Path:
    if not path.exists():
        raise InputError(f"{path}: no such file ({option})")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file ({option})")
    return path


def _miners(value: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in value.split(",") if m.strip())


def _training_pairs(train, dev, squad, dev_articles: int, negatives: int, miners, limit, seed: int, log, dev_limit: int | None = None):
    """(train pairs, dev pairs or None) from pairs files or SQuAD JSON."""
    from bertkit.rerank.data import read_pairs, squad_paragraphs, split_articles, squad_pairs

    if (train is None) == (not squad):
        raise UsageError("give either --train PAIRS or --squad FILE (not both)")
    if train is not None:
        pairs = read_pairs(_file(train, "--train"))
        if limit is not None:
            pairs = pairs.subset(range(min(limit, len(pairs))))
        return pairs, read_pairs(_file(dev, "--dev")) if dev is not None else None
    files = [_file(p, "--squad") for p in squad]
    if dev is not None:
        return squad_pairs(files, negatives=negatives, miners=miners, limit=limit, seed=seed, log=log), read_pairs(_file(dev, "--dev"))
    _, titles, questions = squad_paragraphs(files)
    kept, held = split_articles(titles, questions, dev_articles, seed)
    log(f"dev: {len(held)} held-out training article(s): {', '.join(sorted(held))}" if held else "no dev articles held out")
    train_pairs = squad_pairs(files, negatives=negatives, miners=miners, articles=kept, limit=limit, seed=seed, log=log)
    dev_pairs = squad_pairs(files, negatives=max(negatives, 9), miners=miners, articles=held, limit=dev_limit, seed=seed, log=log) if held else None
    return train_pairs, dev_pairs


@app.command("train")
def train_command(
    out: Path = typer.Option(..., "--out", "-o", help="Reranker directory to write (checkpoints go there too)."),
    train: Optional[Path] = typer.Option(None, "--train", help="Pairs file (.jsonl/.tsv/.csv: query, passage, label)."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Pairs file scored after every epoch (best nDCG@10 epoch kept)."),
    squad: Optional[list[Path]] = SquadOpt,
    dev_articles: int = typer.Option(3, "--dev-articles", min=0, help="With --squad and no --dev: articles held out of training to choose the epoch."),
    dev_limit: Optional[int] = typer.Option(200, "--dev-limit", min=1, help="With --dev-articles: score a seeded sample of N held-out questions (each against 10 candidates)."),
    negatives: int = typer.Option(3, "--negatives", min=0, help="With --squad: mined negatives per question."),
    miners: str = typer.Option("bm25,article", "--miners", help="With --squad: where negatives come from, comma-separated: bm25, dense, article."),
    model: Optional[str] = typer.Option(None, "--base", help="Base encoder directory (default: the packaged all-MiniLM-L6-v2)."),
    pooling: str = typer.Option("mean", "--pooling", help="Pooling under the one-logit head: mean, cls or pooler."),
    loss: str = typer.Option("bce", "--loss", help="bce (each pair on its own) or listwise (softmax over each query's rows)."),
    epochs: Optional[int] = EpochsOpt("1"),
    lr: Optional[float] = LrOpt("5e-5"),
    batch_size: Optional[int] = BatchSizeTrainOpt("16 pairs"),
    weight_decay: float = WeightDecayOpt,
    warmup_ratio: float = WarmupRatioOpt,
    max_grad_norm: float = MaxGradNormOpt,
    patience: Optional[int] = PatienceOpt("0"),
    max_length: int = typer.Option(256, "--max-length", help="Tokens per pair (query + passage + special tokens)."),
    train_layers: str = typer.Option("2", "--train-layers", help="Train the top N encoder layers (+ head), or 'all'."),
    delta: str = typer.Option("int8", "--delta", help="Store trained layers as fp16/int8/int4 deltas against the packaged encoder, or 'none' (whole encoder)."),
    max_train: Optional[int] = typer.Option(None, "--max-train", min=1, help="Use N questions (--squad, seeded sample) or the first N pairs."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, hidden=True, help="Old name of --max-train."),
    seed: int = SeedOpt,
    resume: bool = ResumeOpt,
    checkpoint_every: int = CheckpointEveryOpt,
    threads: Optional[int] = ThreadsOpt,
    device: str = DeviceOpt,
    nproc: int = typer.Option(1, "--nproc", min=1, help="Train data-parallel in N local processes (torchrun + DDP)."),
) -> None:
    """Fine-tune a cross-encoder reranker on pairs or on SQuAD questions and their paragraphs."""
    import torch

    from bertkit.distributed.torchrun import relaunch
    from bertkit.rerank.train import RerankTrainArgs, train_reranker

    if nproc > 1:
        raise typer.Exit(relaunch(nproc))
    check_output(out, "--out", directory=True)
    if threads is not None:
        torch.set_num_threads(threads)
    log = lambda m: err_console.print(m, markup=False)  # noqa: E731
    limit = deprecated(limit, "--limit", max_train, "--max-train")
    given = {k: v for k, v in dict(epochs=epochs, lr=lr, batch_size=batch_size, patience=patience).items() if v is not None}
    args = build_args(RerankTrainArgs, _FLAGS, model=model, pooling=pooling, loss=loss, max_length=max_length, **given,
                      weight_decay=weight_decay, warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm,
                      train_layers=parse_train_layers(train_layers), delta=None if delta == "none" else delta, seed=seed,
                      resume=resume, device=device, checkpoint_every=checkpoint_every, progress=show_progress())
    with flags_for(**_FLAGS):
        pairs, dev_pairs = _training_pairs(train, dev, squad, dev_articles, negatives, _miners(miners), limit, seed, log, dev_limit)
    with resume_hint(out), flags_for(**_FLAGS):
        report = train_reranker(pairs, dev_pairs, out, args, log=log)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    err_console.print(f"saved {escape(str(out))} ({size:.1f} MB): {report.train_pairs} pairs, {report.pairs_per_second:.1f} pairs/s, {report.seconds / 60:.1f} min")
    if report.metrics:
        out_console.print(", ".join(f"dev {k} {v:.2f}" for k, v in report.metrics.items()))


@app.command("evaluate")
def evaluate_command(
    data: Optional[Path] = typer.Option(None, "--data", help="Pairs file (query, passage, label): each query's rows are ranked."),
    squad: Optional[list[Path]] = SquadOpt,
    candidates: int = typer.Option(20, "--candidates", min=2, help="With --squad: each question's paragraph among this many BM25 candidates."),
    model: Optional[str] = RerankModelOpt,
    batch_size: int = BatchSizeOpt,
    backend: str = BackendOpt,
    dtype: str = EngineDtypeOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """MRR@10 and nDCG@10 of a reranker (official definitions), beside the candidates' given order."""
    from bertkit.rerank.evaluate import evaluate_pairs
    from bertkit.rerank.data import read_pairs, squad_pairs
    from bertkit.rerank.reranker import load_reranker

    if (data is None) == (not squad):
        raise UsageError("give either --data PAIRS or --squad FILE")
    check_names(backend, dtype)
    if data is not None:
        pairs = read_pairs(_file(data, "--data"))
    else:
        pairs = squad_pairs([_file(p, "--squad") for p in squad], negatives=candidates - 1, miners=("bm25",))
    with flags_for(dtype="--dtype"):
        reranker = load_reranker(model, backend=backend, dtype=dtype, device=device)
        result = evaluate_pairs(reranker, pairs, batch_size=batch_size)
    err_console.print(f"{result['queries']} queries, {len(pairs)} pairs; {runtime_note(reranker.runtime)}")
    if as_json:
        out_console.print_json(json.dumps(result))
        return
    out_console.print(f"reranker: MRR@10 {result['mrr@10']:.2f}, nDCG@10 {result['ndcg@10']:.2f}; "
                      f"given order: MRR@10 {result['given']['mrr@10']:.2f}, nDCG@10 {result['given']['ndcg@10']:.2f}")


@app.command("rank")
def rank_command(
    query: str = typer.Option(..., "--query", "-q", help="The query."),
    documents: Path = typer.Option(..., "--documents", "-d", help="Candidate documents, one per line (.txt) or a text column (.jsonl/.csv/.tsv)."),
    text_column: str = typer.Option("text", "--text-column"),
    top_k: Optional[int] = typer.Option(None, "--top-k", "-k", min=1, help="Show the best K (default: all)."),
    model: Optional[str] = RerankModelOpt,
    backend: str = BackendOpt,
    dtype: str = EngineDtypeOpt,
    device: str = DeviceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Order documents by relevance to a query, best first."""
    from bertkit.io.readers import read_texts
    from bertkit.rerank.reranker import load_reranker

    check_names(backend, dtype)
    texts = read_texts(str(_file(documents, "--documents")), text_column)
    with flags_for(**_FLAGS, dtype="--dtype"):
        reranker = load_reranker(model, backend=backend, dtype=dtype, device=device)
        results = reranker.rank(query, texts, top_k)
    if as_json:
        out_console.print_json(json.dumps([r.to_dict() for r in results]))
        return
    for r in results:
        out_console.print(f"{r.score:.4f}  [{r.index}] {escape(r.text or '')[:120]}")
