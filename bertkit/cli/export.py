"""``bertkit export``: an ONNX directory that onnxruntime and the tokenizer alone can serve."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer

from bertkit.cli.options import MaxLengthOpt, ModelOpt, err_console
from bertkit.embeddings.embedder import Embedder
from bertkit.engine.backends import check_backend
from bertkit.engine.build import build_backend, export_embedding
from bertkit.errors import UsageError, choice_error
from bertkit.io.atomic import atomic_path

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
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    if out.is_dir() and (out / "config.json").exists():
        raise UsageError(f"--out {out} holds a Hugging Face model; choose an empty or new directory")
    embedder = Embedder(model, pooling=pooling, layers=layers, max_length=max_length, backend="onnx", dtype=dtype, device="cpu")
    # Export into the cache first, so the int8 quality gate runs (and refuses) before anything lands in --out.
    build_backend(embedder)
    cached, info = export_embedding(embedder)
    out.mkdir(parents=True, exist_ok=True)
    for name in (info.model_file, "onnx_config.json"):
        with atomic_path(out / name) as tmp:
            shutil.copyfile(cached / name, tmp)
    embedder.encoder.tokenizer.save_pretrained(str(out))
    directory = out
    err_console.print(
        f"wrote {directory}: {info.model_file} ({dtype}, inputs {', '.join(info.inputs)} -> {', '.join(info.outputs)} "
        f"(batch, {info.dim})), onnx_config.json, tokenizer; pooling {info.pooling}, layers {info.layers}"
    )
