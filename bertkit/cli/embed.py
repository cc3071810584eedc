"""``bertkit embed``: texts in, vectors out (.npy, .parquet, .jsonl), streamed."""

from __future__ import annotations

import itertools
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape

from bertkit.cli.ray_engine import AddressOpt, CpusOpt, EngineOpt, GpusOpt, ShardRowsOpt, WorkersOpt, run_ray, use_ray
from bertkit.cli.options import BackendOpt, BatchSizeOpt, DeviceOpt, EngineDtypeOpt, MaxLengthOpt, ModelOpt, err_console, flags_for, job_progress, runtime_note, show_progress
from bertkit.embeddings.names import LONG_MODES, split_pooling_spec  # torch-free: --help and bad flags never load torch
from bertkit.engine.quality import INT8_MIN_MEAN_COSINE
from bertkit.engine.runtime import check_names
from bertkit.errors import InputError, choice_error
from bertkit.io.atomic import check_not_input, check_output
from bertkit.io.formats import output_format
from bertkit.io.readers import detect_format, iter_texts, read_texts

if TYPE_CHECKING:
    from bertkit.embeddings.embedder import Embedder

CHUNK = 8192  # texts per streamed chunk: sorted by length within it, written as it completes
CHECK_SAMPLE = 256


def _spool_stdin() -> str:
    """Copy stdin to a temporary .txt file so it can be counted, then streamed."""
    tmp = tempfile.NamedTemporaryFile(prefix="bertkit-stdin-", suffix=".txt", delete=False)
    with tmp:
        shutil.copyfileobj(sys.stdin.buffer, tmp)
    return tmp.name


def embed_command(
    input: str = typer.Argument(..., help="Texts: .txt (one per line), .csv/.tsv (header), .jsonl, or - for stdin."),
    output: Path = typer.Option(..., "--output", "-o", help="Vectors: .npy, .parquet or .jsonl (--tokens: .parquet or .jsonl)."),
    model: Optional[str] = ModelOpt,
    pooling: Optional[str] = typer.Option(None, "--pooling", "-p", help="cls, pooler, mean, max, min, mean_sqrt_len, weighted_layer, attention; join with + to concatenate. Default: a sentence-transformers directory's own pipeline (pooling, Dense, Normalize), else mean."),
    layers: str = typer.Option("-1", "--layers", help="Hidden layer(s) to pool: -1, -2, -4: (mean of last four), 2:5, -1,-2, all."),
    normalize: Optional[bool] = typer.Option(None, "--normalize/--no-normalize", help="L2-normalise every vector (default: as a sentence-transformers directory says; otherwise not)."),
    batch_size: int = BatchSizeOpt,
    max_batch_tokens: Optional[int] = typer.Option(None, "--max-batch-tokens", min=1, help="Also cap each batch at this many padded tokens."),
    max_length: Optional[int] = MaxLengthOpt,
    text_column: str = typer.Option("text", "--text-column", help="Text column for .csv/.tsv/.jsonl input."),
    tokens: bool = typer.Option(False, "--tokens", help="Word-level vectors (sub-word pieces pooled per word) instead of one vector per text."),
    long: str = typer.Option("truncate", "--long", help="Texts over --max-length: truncate (cut, and count them) or window (overlapping windows pooled into one vector)."),
    stride: Optional[int] = typer.Option(None, "--stride", min=0, help="Tokens shared by consecutive windows with --long window (default max length / 4)."),
    backend: str = BackendOpt,
    dtype: str = EngineDtypeOpt,
    check: bool = typer.Option(False, "--check", help=f"First compare the backend with torch fp32 on up to {CHECK_SAMPLE} input texts (cosine); int8 must reach {INT8_MIN_MEAN_COSINE}."),
    device: str = DeviceOpt,
    engine: str = EngineOpt,
    address: Optional[str] = AddressOpt,
    workers: Optional[int] = WorkersOpt,
    cpus_per_worker: float = CpusOpt,
    gpus_per_worker: float = GpusOpt,
    shard_rows: int = ShardRowsOpt,
) -> None:
    """Embed texts into vectors with any pooling; rows follow the input order."""
    # Validate everything cheap before loading a model or reading a large file.
    if pooling is not None:
        split_pooling_spec(pooling)
    if long not in LONG_MODES:
        raise choice_error("--long mode", long, LONG_MODES)
    check_names(backend, dtype)
    if use_ray(engine):  # a corpus on Ray Data: OUTDIR of Parquet shards (bertkit.distributed)
        from bertkit.distributed.tasks import EmbedTask

        options = dict(pooling=pooling, layers=layers, normalize=normalize, batch_size=batch_size, max_batch_tokens=max_batch_tokens,
                       max_length=max_length, long=long, stride=stride, backend=backend, dtype=dtype, device=device)
        return run_ray(EmbedTask(text_column, "vector", model, options), input, output, address, workers, cpus_per_worker,
                       gpus_per_worker, shard_rows, **{"--tokens": tokens, "--check": check})
    output_format(str(output), words=tokens)
    check_output(output, "--output")
    check_not_input(output, "--output", input)
    detect_format(input)
    source = _spool_stdin() if input == "-" else input
    try:
        with flags_for(dtype="--dtype", layers="--layers", pooling="--pooling"):
            _embed(source, input, output, tokens, text_column, check, long, dict(
                model=model, pooling=pooling, layers=layers, normalize=normalize, batch_size=batch_size,
                max_batch_tokens=max_batch_tokens, max_length=max_length, long=long, stride=stride,
                backend=backend, dtype=dtype, device=device, progress=show_progress(),
            ))
    finally:
        if source != input:
            Path(source).unlink(missing_ok=True)


def _embed(source: str, shown: str, output: Path, tokens: bool, text_column: str, check: bool, long: str, options: dict) -> None:
    from bertkit.io.stream import EmbeddingStreamWriter

    model = options.pop("model")
    if tokens:
        from bertkit.embeddings.embedder import Embedder
        from bertkit.io.writers import write_word_vectors

        texts = read_texts(source, text_column)
        with job_progress(len(texts), "embedding words") as job:
            embedder = Embedder(model, **{**options, "progress": job})
            rows = embedder.embed_words(texts)
        write_word_vectors(str(output), texts, [r.words for r in rows], [r.vectors for r in rows])
        shape = f"{sum(len(r.words) for r in rows)} word vectors x {embedder.encoder.hidden_size}"
    else:
        count = sum(1 for _ in iter_texts(source, text_column))  # validates every row before any work
        if count == 0:
            raise InputError(f"{shown if shown != '-' else 'stdin'}: no texts found (empty input)")
        job = job_progress(count, "embedding")  # one bar (or a line a minute) for every chunk together
        embedder = None if check else _warm_embedder(model, options, job)  # a warm ONNX cache: no torch at all
        if embedder is None:
            from bertkit.embeddings.embedder import Embedder

            embedder = Embedder(model, **{**options, "progress": job})
        if check:
            _check(embedder, list(itertools.islice(iter_texts(source, text_column), CHECK_SAMPLE)))
        with job, EmbeddingStreamWriter(output, embedder.dim, count) as writer:
            for texts, vectors in embedder.embed_stream(iter_texts(source, text_column), CHUNK):
                writer.write(texts, vectors)
        shape = f"{count} x {embedder.dim}"
    stats = embedder.last_stats
    err_console.print(
        f"wrote {escape(str(output))} ({shape}); {stats.summary(long)}; {escape(embedder.source)}; {runtime_note(embedder.runtime)}"
    )
    if stats.truncated and long == "truncate":
        err_console.print(
            f"note: {stats.truncated} text(s) longer than {embedder.max_length} tokens were cut; "
            "use --long window to embed them whole"
        )


def _warm_embedder(model, options: dict, job):
    """The Embedder's vectors from a verified warm ONNX cache (``bertkit.embeddings.warm``), or None."""
    from bertkit.embeddings.warm import warm_embedder

    keys = ("pooling", "layers", "normalize", "max_length", "long", "backend", "dtype", "device", "batch_size", "max_batch_tokens")
    return warm_embedder(model, **{k: options[k] for k in keys}, progress=job)


def _check(embedder: Embedder, sample: list[str]) -> None:
    """Compare with torch fp32 on the sample (the library refuses int8 below the gate)."""
    result = embedder.compare(sample)
    err_console.print(f"check: {embedder.runtime.backend} {embedder.runtime.dtype} vs torch fp32: {result}")
    embedder.gate(result)
