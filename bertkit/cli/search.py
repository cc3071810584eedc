"""``bertkit search INDEX "query"`` and ``bertkit search evaluate``: search an index, or score it on BEIR qrels."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from bertkit.cli.options import DeviceOpt, EngineDtypeOpt, JsonOpt, err_console, flags_for, out_console
from bertkit.errors import UsageError

__all__ = ["search_command", "load_reranker", "RERANK_DEPTH"]

RERANK_DEPTH = 100  # passages a reranker reorders per query (evaluate), when --rerank is given
SEARCH_FLAGS = dict(top_k="--top-k", filter="--filter", queries="QUERY", search_backend="--backend", dtype="--dtype")


def search_command(
    target: str = typer.Argument(..., metavar="INDEX_DIR | evaluate", help="The index directory, or 'evaluate' (with --index, --queries, --qrels)."),
    query: Optional[str] = typer.Argument(None, help="The query (search an index)."),
    top_k: int = typer.Option(10, "--top-k", "-k", min=1, help="Passages to show per query."),
    rerank: Optional[str] = typer.Option(None, "--rerank", help="Rerank the candidates with a cross-encoder directory ('default': the shipped reranker)."),
    rerank_depth: int = typer.Option(RERANK_DEPTH, "--rerank-depth", min=1, help="Candidates the reranker reorders per query."),
    hybrid: bool = typer.Option(False, "--hybrid", help="Fuse dense and BM25 rankings (reciprocal rank fusion, k=60)."),
    filter: Optional[str] = typer.Option(None, "--filter", help='Metadata filter as JSON, e.g. \'{"source": "wiki"}\'.'),
    as_json: bool = JsonOpt,
    index: Optional[Path] = typer.Option(None, "--index", help="evaluate: the index directory."),
    queries: Optional[Path] = typer.Option(None, "--queries", help="evaluate: BEIR queries.jsonl (_id, text)."),
    qrels: Optional[Path] = typer.Option(None, "--qrels", help="evaluate: BEIR qrels TSV (query-id, corpus-id, score; header)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Search backend for this run: auto, exact or usearch (default: the index's)."),
    embed_backend: str = typer.Option("auto", "--embed-backend", help="Query embedding runtime: auto, torch or onnx."),
    dtype: str = EngineDtypeOpt,
    device: str = DeviceOpt,
) -> None:
    """Search an index (dense, --hybrid, --rerank), or `bertkit search evaluate` on BEIR queries and qrels."""
    runtime = dict(backend=embed_backend, dtype=dtype, device=device, search_backend=backend)
    if target == "evaluate":
        if query is not None:
            raise UsageError(f"bertkit search evaluate takes no QUERY (got {query!r}); give --queries FILE")
        missing = [flag for flag, value in (("--index", index), ("--queries", queries), ("--qrels", qrels)) if value is None]
        if missing:
            raise UsageError(f"bertkit search evaluate needs {', '.join(missing)}")
        return _evaluate(index, queries, qrels, hybrid, rerank, rerank_depth, as_json, runtime)
    if query is None:
        raise UsageError("give a QUERY: bertkit search INDEX_DIR \"query\" (or bertkit search evaluate --index DIR ...)")
    if index is not None or queries is not None or qrels is not None:
        raise UsageError("--index, --queries and --qrels belong to bertkit search evaluate")
    where = _parse_filter(filter)
    reranker = load_reranker(rerank, rerank_depth)
    from bertkit.retrieval.index import Index

    with flags_for(**SEARCH_FLAGS):
        idx = Index.load(target, **runtime)
        depth = max(top_k, rerank_depth) if reranker else top_k
        hits = idx.search([query], top_k=depth, filter=where, hybrid=hybrid)[0]
    if reranker:
        hits = reranker(query, hits)
    _show(query, hits[:top_k], as_json)


def _parse_filter(text: Optional[str]) -> Optional[dict]:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--filter must be a JSON object such as '{{\"source\": \"wiki\"}}' ({exc.msg})") from None
    if not isinstance(value, dict):
        raise UsageError(f"--filter must be a JSON object of field -> value, got {type(value).__name__}")
    return value


def load_reranker(spec: Optional[str], depth: int = RERANK_DEPTH):
    """``--rerank DIR`` as a function ``(query, hits) -> hits`` reordered by the cross-encoder (None: no reranking)."""
    if spec is None:
        return None
    try:
        from bertkit.rerank.reranker import Reranker
    except ImportError:
        raise UsageError("--rerank needs the reranker (bertkit.rerank), which this installation lacks") from None
    with flags_for(path="--rerank", model="--rerank"):
        model = Reranker.load(spec)

    def rerank(query: str, hits: list) -> list:
        if not hits:
            return hits
        head, tail = hits[:depth], hits[depth:]
        ranked = model.rank(query, [h.text for h in head], top_k=len(head))
        return [replace(head[r.index], score=float(r.score)) for r in ranked] + tail

    return rerank


def _show(query: str, hits: list, as_json: bool) -> None:
    if as_json:
        out_console.print_json(json.dumps({"query": query, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
        return
    table = Table(title=f"{len(hits)} passages for {escape(query)!r}" if hits else f"no passage for {escape(query)!r}")
    for name in ("rank", "score", "passage", "span", "text"):
        table.add_column(name, overflow="fold")
    for rank, h in enumerate(hits, start=1):
        text = h.text if len(h.text) <= 240 else h.text[:237] + "..."
        table.add_row(str(rank), f"{h.score:.4f}", escape(h.passage_id), f"{h.start}:{h.end}", escape(text))
    out_console.print(table)


def _evaluate(index_dir: Path, queries_path: Path, qrels_path: Path, hybrid: bool, rerank: Optional[str], depth: int,
              as_json: bool, runtime: dict) -> None:
    from bertkit.retrieval.evaluate import evaluate_index
    from bertkit.retrieval.index import Index
    from bertkit.retrieval.metrics import METRICS, read_qrels, read_queries

    queries, qrels = read_queries(queries_path), read_qrels(qrels_path)
    reranker = load_reranker(rerank, depth)
    with flags_for(**SEARCH_FLAGS):
        idx = Index.load(index_dir, **runtime)
        result = evaluate_index(idx, queries, qrels, hybrid=hybrid, rerank=reranker)
    mode = "hybrid" if hybrid else "dense"
    result = {"index": str(index_dir), "mode": mode + (" + rerank" if reranker else ""), **result}
    if as_json:
        out_console.print_json(json.dumps(result))
        return
    table = Table(title=f"{escape(str(index_dir))}: {result['mode']}, {result['queries']} queries")
    for m in METRICS:
        table.add_column(m)
    table.add_row(*(f"{result[m]:.4f}" for m in METRICS))
    out_console.print(table)
    if result["missing_queries"]:
        err_console.print(f"note: {result['missing_queries']} judged queries are not in {escape(str(queries_path))} (left out)")
