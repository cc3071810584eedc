"""``bertkit export``: an ONNX directory that onnxruntime and the tokenizer alone can serve."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from bertkit.cli.options import MaxLengthOpt, ModelOpt, err_console
from bertkit.embeddings.embedder import Embedder
from bertkit.engine.backends import check_backend
from bertkit.embeddings.engine import export_embedding
from bertkit.errors import UsageError, choice_error
from bertkit.io.atomic import atomic_path, check_output
from bertkit.modeldir import finish_writing, start_writing

FORMATS = ("onnx",)


def export_command(
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write (created if missing)."),
    format: str = typer.Option("onnx", "--format", help="Export format: onnx."),
    model: Optional[str] = ModelOpt,
    pooling: str = typer.Option("mean", "--pooling", "-p", help="Pooling baked into the graph (parameter-free or as trained)."),
    layers: str = typer.Option("-1", "--layers", help="Hidden layer(s) to pool, as in bertkit embed."),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32 or int8 (dynamic quantisation, vetted against fp32)."),
    max_length: Optional[int] = MaxLengthOpt,
) -> None:
    """Export encoder + pooling to ONNX, with the tokenizer and a JSON config describing inputs and pooling."""
    if format not in FORMATS:
        raise choice_error("export format", format, FORMATS)
    check_backend("onnx", dtype)
    check_output(out, "--out", directory=True)
    if out.is_dir() and (out / "config.json").exists():
        raise UsageError(f"--out {out} holds a Hugging Face model; choose an empty or new directory")
    embedder = Embedder(model, pooling=pooling, layers=layers, max_length=max_length, backend="onnx", dtype=dtype, device="cpu")
    # Export into the cache first, so the int8 quality gate runs (and refuses) before anything lands in --out.
    embedder.backend  # builds (and for int8 gates) the export
    cached, info = export_embedding(embedder.encoder, embedder.layers, embedder.pooling, dtype, from_files=True)
    start_writing(out)  # a model directory: incomplete until its manifest is written
    with atomic_path(out / info.model_file) as tmp:
        shutil.copyfile(cached / info.model_file, tmp)
    embedder.encoder.tokenizer.save_pretrained(str(out))
    directory = finish_writing(out, info)  # bertkit.json, then manifest.json over every file
    err_console.print(
        f"wrote {escape(str(directory))}: {info.model_file} ({dtype}, inputs {', '.join(info.inputs)} -> {', '.join(info.outputs)} "
        f"(batch, {info.dim})), bertkit.json, tokenizer, manifest.json; pooling {info.pooling}, layers {info.layers}"
    )
