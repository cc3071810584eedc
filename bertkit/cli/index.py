"""``bertkit index build`` / ``bertkit index add``: a persistent search index over a corpus."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from bertkit.cli.ray_engine import AddressOpt, CpusOpt, WorkersOpt
from bertkit.cli.options import DeviceOpt, EngineDtypeOpt, ModelOpt, err_console, flags_for
from bertkit.errors import choice_error

__all__ = ["app", "build_command", "add_command", "INDEX_FLAGS", "RayEmbedder"]

app = typer.Typer(help="Build and grow a search index (passages, vectors, metadata) over a corpus.", no_args_is_help=True)

PRECISIONS = ("fp32", "fp16", "int8", "binary")
SEARCH_BACKENDS = ("auto", "exact", "usearch")
# library argument -> the flag that sets it, for one-line errors that name the flag
INDEX_FLAGS = dict(precision="--precision", dim="--dim", backend="--backend", pooling="--pooling",
                   passage_tokens="--passage-tokens", passage_overlap="--passage-overlap", model="--model",
                   ids="--id-column", texts="CORPUS", metadata="CORPUS", dtype="--dtype")

TextColumnOpt = typer.Option("text", "--text-column", help="Text field (a BEIR corpus's title is put before it).")
IdColumnOpt = typer.Option("id", "--id-column", help="Document id field (BEIR '_id' is used when 'id' is absent; none: row numbers).")


@app.command("build")
def build_command(
    corpus: str = typer.Argument(..., help="Documents: .jsonl, .csv, .tsv, .parquet, or a BEIR corpus.jsonl (_id, title, text)."),
    output: Path = typer.Option(..., "--output", "-o", help="Index directory (replaced only once the new index is complete)."),
    model: Optional[str] = ModelOpt,
    pooling: Optional[str] = typer.Option(None, "--pooling", "-p", help="Pooling (default: the model directory's sentence-transformers pipeline, else mean)."),
    text_column: str = TextColumnOpt,
    id_column: str = IdColumnOpt,
    precision: str = typer.Option("fp32", "--precision", help="Stored vectors: fp32, fp16, int8 or binary (int8 / binary candidates are rescored)."),
    dim: Optional[int] = typer.Option(None, "--dim", help="Keep the first N dimensions, renormalised (Matryoshka truncate_dim)."),
    backend: str = typer.Option("auto", "--backend", help="Search: auto (exact up to 200,000 passages, then usearch HNSW), exact or usearch."),
    passage_tokens: Optional[int] = typer.Option(None, "--passage-tokens", help="Tokens per passage (default: what the encoder reads at once)."),
    passage_overlap: int = typer.Option(32, "--passage-overlap", help="Tokens shared by consecutive passages of a long document."),
    embed_backend: str = typer.Option("auto", "--embed-backend", help="Embedding runtime: auto, torch or onnx."),
    dtype: str = EngineDtypeOpt,
    device: str = DeviceOpt,
    engine: str = typer.Option("local", "--engine", help="local, or ray (embed the passages on Ray Data; needs the ray extra; a rerun resumes)."),
    address: Optional[str] = AddressOpt,
    workers: Optional[int] = WorkersOpt,
    cpus_per_worker: float = CpusOpt,
) -> None:
    """Split a corpus into passages, embed them and write a search index directory."""
    from bertkit.io.atomic import check_not_input, check_output

    _check_choices(precision, backend, engine)
    check_output(output, "--output", directory=True)
    check_not_input(output, "--output", corpus)
    from bertkit.retrieval.corpus import read_corpus
    from bertkit.retrieval.index import Index
    from bertkit.retrieval.store import check_target, writer_lock

    with writer_lock(output):
        check_target(output)  # an existing folder of other files is never replaced
        docs = read_corpus(corpus, text_column, id_column)  # every row checked before a model is loaded
        with flags_for(**INDEX_FLAGS):
            ray_opts = dict(address=address, workers=workers, cpus_per_worker=cpus_per_worker)
            embedder = _embedder(model, pooling, embed_backend, dtype, device, engine, output, ray_opts)
            index = Index.build(docs.texts, docs.ids, docs.metadata, embedder=embedder, pooling=pooling,
                                precision=precision, dim=dim, backend=backend, passage_tokens=passage_tokens,
                                passage_overlap=passage_overlap)
        index.save(output)
        if isinstance(embedder, RayEmbedder):
            shutil.rmtree(embedder.workdir, ignore_errors=True)
    _summary("wrote", output, index)


@app.command("add")
def add_command(
    index_dir: Path = typer.Argument(..., help="An index directory (bertkit index build)."),
    corpus: str = typer.Argument(..., help="More documents, in any corpus format; ids must be new."),
    text_column: str = TextColumnOpt,
    id_column: str = IdColumnOpt,
    embed_backend: str = typer.Option("auto", "--embed-backend", help="Embedding runtime: auto, torch or onnx."),
    dtype: str = EngineDtypeOpt,
    device: str = DeviceOpt,
) -> None:
    """Add documents to an index (embedded with the index's own encoder), in place."""
    from bertkit.retrieval.corpus import read_corpus
    from bertkit.retrieval.index import Index
    from bertkit.retrieval.store import writer_lock

    with writer_lock(index_dir):
        docs = read_corpus(corpus, text_column, id_column)
        with flags_for(**INDEX_FLAGS):
            index = Index.load(index_dir, backend=embed_backend, dtype=dtype, device=device)
            before = len(index)
            index.add(docs.texts, docs.ids, docs.metadata)
        index.save(index_dir)
    err_console.print(f"added {len(docs.texts)} documents ({len(index) - before} passages)")
    _summary("updated", index_dir, index)


def _check_choices(precision: str, backend: str, engine: str) -> None:
    if precision not in PRECISIONS:
        raise choice_error("--precision", precision, PRECISIONS)
    if backend not in SEARCH_BACKENDS:
        raise choice_error("--backend", backend, SEARCH_BACKENDS)
    if engine not in ("local", "ray"):
        raise choice_error("--engine", engine, ("local", "ray"))


def _embedder(model, pooling, backend: str, dtype: str, device: str, engine: str, output: Path, ray_opts: dict):
    """The embedder for the passages: this process's, or one that sends them to Ray Data."""
    from bertkit.embeddings.embedder import Embedder

    embedder = Embedder(model, pooling=pooling, backend=backend, dtype=dtype, device=device)
    if engine != "ray":
        return embedder
    from bertkit.cli.ray_engine import use_ray

    use_ray(engine)  # refuses when Ray is not installed
    options = dict(pooling=pooling, backend=backend, dtype=dtype, device=device)
    return RayEmbedder(embedder, model, options, output.parent / f".{output.name}.ray-work", ray_opts)


class RayEmbedder:
    """``embed(texts)`` on a Ray Data actor pool (``bertkit embed --engine ray``'s job); the rest local.

    The passages and their vector shards live in ``workdir`` (a hidden sibling of the index),
    so a build killed midway and rerun embeds only the shards not yet written.
    """

    def __init__(self, local, model, options: dict, workdir: Path, ray_opts: dict) -> None:
        self._local, self._model, self._options, self.workdir, self._ray = local, model, options, workdir, ray_opts

    def __getattr__(self, name):
        return getattr(self._local, name)

    def embed(self, texts):
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        from bertkit.distributed.job import JobOptions, read_output, run_job
        from bertkit.distributed.tasks import EmbedTask

        self.workdir.mkdir(parents=True, exist_ok=True)
        source = self.workdir / "passages.parquet"
        table = pa.table({"text": list(texts)})
        if not source.is_file() or not pq.read_table(source).equals(table):
            pq.write_table(table, source)
        task = EmbedTask("text", "vector", self._model, self._options)
        summary = run_job(task, str(source), self.workdir / "vectors", JobOptions(**self._ray),
                          log=lambda m: err_console.print(m, markup=False))
        err_console.print(summary.line(), markup=False)
        return np.asarray(read_output(self.workdir / "vectors").column("vector").to_pylist(), dtype=np.float32)  # (N, D)


def _summary(verb: str, path: Path, index) -> None:
    c = index.config
    err_console.print(
        f"{verb} {escape(str(path))}: {c.documents} documents, {len(index)} passages, {escape(c.encoder_name)} "
        f"({c.pooling}), {c.precision} x {c.dim}, search {index.search_backend}"
    )


