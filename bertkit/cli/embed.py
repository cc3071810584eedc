"""``bertkit embed``: texts in, vectors out (.npy, .parquet, .jsonl)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bertkit.cli.options import BatchSizeOpt, DeviceOpt, DtypeOpt, MaxLengthOpt, ModelOpt, err_console, show_progress
from bertkit.embeddings.embedder import LONG_MODES, Embedder
from bertkit.embeddings.pooling import split_pooling_spec
from bertkit.errors import choice_error
from bertkit.io.readers import detect_format, read_texts
from bertkit.io.writers import output_format, write_embeddings, write_word_vectors


def embed_command(
    input: str = typer.Argument(..., help="Texts: .txt (one per line), .csv/.tsv (header), .jsonl, or - for stdin."),
    output: Path = typer.Option(..., "--output", "-o", help="Vectors: .npy, .parquet or .jsonl (--tokens: .parquet or .jsonl)."),
    model: Optional[str] = ModelOpt,
    pooling: str = typer.Option("mean", "--pooling", "-p", help="cls, pooler, mean, max, min, mean_sqrt_len, weighted_layer, attention; join with + to concatenate."),
    layers: str = typer.Option("-1", "--layers", help="Hidden layer(s) to pool: -1, -2, -4: (mean of last four), 2:5, -1,-2, all."),
    normalize: bool = typer.Option(False, "--normalize", help="L2-normalise every vector."),
    batch_size: int = BatchSizeOpt,
    max_length: Optional[int] = MaxLengthOpt,
    text_column: str = typer.Option("text", "--text-column", help="Text column for .csv/.tsv/.jsonl input."),
    tokens: bool = typer.Option(False, "--tokens", help="Word-level vectors (sub-word pieces pooled per word) instead of one vector per text."),
    long: str = typer.Option("truncate", "--long", help="Texts over --max-length: truncate (cut, and count them) or window (overlapping windows pooled into one vector)."),
    stride: Optional[int] = typer.Option(None, "--stride", min=0, help="Tokens shared by consecutive windows with --long window (default max length / 4)."),
    dtype: str = DtypeOpt,
    device: str = DeviceOpt,
) -> None:
    """Embed texts into vectors with any pooling; rows follow the input order."""
    # Validate everything cheap before loading a model or reading a large file.
    split_pooling_spec(pooling)
    if long not in LONG_MODES:
        raise choice_error("--long mode", long, LONG_MODES)
    output_format(str(output), words=tokens)
    detect_format(input)
    texts = read_texts(input, text_column)
    embedder = Embedder(
        model,
        pooling=pooling,
        layers=layers,
        normalize=normalize,
        batch_size=batch_size,
        max_length=max_length,
        long=long,
        stride=stride,
        dtype=dtype,
        device=device,
        progress=show_progress(),
    )
    if tokens:
        rows = embedder.embed_words(texts)
        write_word_vectors(str(output), texts, [r.words for r in rows], [r.vectors for r in rows])
        shape = f"{sum(len(r.words) for r in rows)} word vectors x {embedder.encoder.hidden_size}"
    else:
        vectors = embedder.embed(texts)
        write_embeddings(str(output), texts, vectors)
        shape = f"{vectors.shape[0]} x {vectors.shape[1]}"
    stats = embedder.last_stats
    err_console.print(f"wrote {output} ({shape}); {stats.summary(long)}")
    if stats.truncated and long == "truncate":
        err_console.print(
            f"note: {stats.truncated} text(s) longer than {embedder.encoder.max_length} tokens were cut; "
            "use --long window to embed them whole"
        )
