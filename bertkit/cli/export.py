"""``bertkit export``: a model as a directory other tools load as they are.

- ``--format onnx`` (default): encoder + pooling as ONNX, with the tokenizer and a JSON
  config, which onnxruntime and the tokenizer alone can serve.
- ``--format hf``: a bertkit classifier, QA reader or tagger as a transformers task
  directory (``AutoModelFor...`` and ``pipeline(...)`` load it).
- ``--format sentence-transformers``: an embedder as a sentence-transformers directory.

Every format builds its directory beside OUT and renames it into place at the end.
Top-level imports stay torch-free, so ``--help`` and a bad flag answer at once.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from bertkit.cli.options import MaxLengthOpt, ModelOpt, err_console, flags_for
from bertkit.embeddings.names import split_pooling_spec
from bertkit.engine.runtime import check_names
from bertkit.errors import UsageError, choice_error
from bertkit.io.atomic import check_output

FORMATS = ("onnx", "hf", "sentence-transformers")


def export_command(
    model_dir: Optional[str] = typer.Argument(None, metavar="[MODEL_DIR]", help="The model to export (or --model); default: the packaged all-MiniLM-L6-v2."),
    target: Optional[Path] = typer.Argument(None, metavar="[OUT]", help="The directory to write (or --out): new, or empty."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The directory to write (new, or empty)."),
    format: str = typer.Option("onnx", "--format", help="onnx (encoder + pooling graph), hf (transformers task directory) or sentence-transformers."),
    model: Optional[str] = ModelOpt,
    pooling: Optional[str] = typer.Option(None, "--pooling", "-p", help="onnx / sentence-transformers: the pooling (default: a sentence-transformers directory's own, else mean)."),
    normalize: Optional[bool] = typer.Option(None, "--normalize/--no-normalize", help="sentence-transformers: end with a Normalize module (default: as the model directory says)."),
    layers: str = typer.Option("-1", "--layers", help="onnx: hidden layer(s) to pool, as in bertkit embed."),
    dtype: str = typer.Option("fp32", "--dtype", help="onnx: fp32 or int8 (dynamic quantisation, vetted against fp32)."),
    max_length: Optional[int] = MaxLengthOpt,
) -> None:
    """Export a model: ONNX (default), a transformers task directory (hf) or a sentence-transformers directory."""
    if format not in FORMATS:
        raise choice_error("export format", format, FORMATS)
    source, out = _paths(model_dir, target, model, out)
    if pooling is not None:
        split_pooling_spec(pooling)
    if format == "onnx":
        check_names("onnx", dtype)  # torch-free: a bad flag is refused before torch loads
        if dtype == "auto":
            raise choice_error("export dtype", dtype, ("fp32", "int8"))
    elif dtype != "fp32":
        raise UsageError(f"--dtype applies to --format onnx; --format {format} writes the fp32 weights as they are")
    if format == "hf" and (pooling is not None or normalize is not None or layers != "-1"):
        raise UsageError("--pooling, --normalize and --layers apply to embedders; --format hf exports a classifier, reader or tagger as it was trained")
    if format == "hf" and source is None:
        raise UsageError("--format hf needs MODEL_DIR: a bertkit classifier, QA reader or tagger directory")
    from bertkit.export.writing import check_new_directory

    check_output(out, "OUT", directory=True)
    check_new_directory(out)
    with flags_for(layers="--layers", pooling="--pooling", normalize="--normalize"):
        if format == "onnx":
            _onnx(source, out, pooling, layers, dtype, max_length)
        elif format == "hf":
            _hf(source, out)
        else:
            _sentence_transformers(source, out, pooling, normalize, layers, max_length)


def _paths(model_dir: Optional[str], target: Optional[Path], model: Optional[str], out: Optional[Path]) -> tuple[Optional[str], Path]:
    """(MODEL_DIR, OUT) from the positional arguments and --model / --out; one positional with
    --out is MODEL_DIR, one without it is OUT."""
    positional = [p for p in (model_dir, target) if p is not None]
    if out is not None:
        positional.append(out)
    if model is not None:
        positional.insert(0, model)
    if len(positional) == 1:
        positional.insert(0, None)
    if len(positional) != 2 or positional[1] is None:
        raise UsageError("give MODEL_DIR and OUT (or --model DIR and --out DIR), each once: bertkit export [--format F] MODEL_DIR OUT")
    return (str(positional[0]) if positional[0] is not None else None), Path(positional[1])


def _onnx(source, out: Path, pooling, layers: str, dtype: str, max_length) -> None:
    from bertkit.embeddings.embedder import Embedder
    from bertkit.embeddings.engine import export_embedding
    from bertkit.export.writing import new_directory
    from bertkit.io.atomic import atomic_path
    from bertkit.modeldir import finish_writing

    embedder = Embedder(source, pooling=pooling, layers=layers, max_length=max_length, backend="onnx", dtype=dtype, device="cpu")
    if any(s != "normalize" for s in embedder.steps):
        raise UsageError(
            f"--format onnx: {embedder.source} has Dense layers after the pooling, which the ONNX graph does not hold; "
            "use --format sentence-transformers, or --pooling to export encoder + pooling only"
        )
    # Export into the cache first, so the int8 quality gate runs (and refuses) before anything lands in OUT.
    embedder.backend  # builds (and for int8 gates) the export
    cached, info = export_embedding(embedder.encoder, embedder.layers, embedder.pooling, dtype, from_files=True)
    with new_directory(out) as tmp:
        with atomic_path(tmp / info.model_file) as part:
            shutil.copyfile(cached / info.model_file, part)
        embedder.encoder.tokenizer.save_pretrained(str(tmp))
        finish_writing(tmp, info)  # bertkit.json, then manifest.json over every file
    note = "; the graph's vectors are not normalised (the model directory normalises: L2-normalise them)" if embedder.normalize else ""
    err_console.print(
        f"wrote {escape(str(out))}: {info.model_file} ({dtype}, inputs {', '.join(info.inputs)} -> {', '.join(info.outputs)} "
        f"(batch, {info.dim})), bertkit.json, tokenizer, manifest.json; pooling {info.pooling}, layers {info.layers}{note}"
    )


def _hf(source: str, out: Path) -> None:
    from bertkit.export.hf import export_hf

    result = export_hf(source, out)
    labels = f", labels {', '.join(result.labels)}" if result.labels else ""
    err_console.print(
        f"wrote {escape(str(out))}: {result.architecture} (config.json, model.safetensors, tokenizer){escape(labels)}; "
        f"outputs within {result.max_abs_diff:.1e} of bertkit's"
    )


def _sentence_transformers(source, out: Path, pooling, normalize, layers: str, max_length) -> None:
    from bertkit.embeddings.embedder import Embedder
    from bertkit.export.st import export_sentence_transformers

    embedder = Embedder(source, pooling=pooling, normalize=normalize, layers=layers, max_length=max_length, backend="torch", dtype="fp32", device="cpu")
    result = export_sentence_transformers(embedder, out)
    err_console.print(
        f"wrote {escape(str(out))}: sentence-transformers modules {escape(', '.join(result.modules))} ({result.dim} dimensions); "
        f"vectors within {result.max_abs_diff:.1e} of bertkit's"
    )
