"""Evaluate an index on BEIR-style queries and qrels: passages ranked, folded to documents, scored."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from bertkit.retrieval.metrics import evaluate_run

__all__ = ["EVAL_DEPTH", "retrieve_documents", "evaluate_index"]

EVAL_DEPTH = 100  # documents ranked per query (recall@100 needs 100)


def retrieve_documents(index, queries: Mapping[str, str], *, depth: int = EVAL_DEPTH, hybrid: bool = False,
                       rerank: Callable | None = None, batch_size: int = 64) -> dict[str, list[str]]:
    """{query id: document ids, best first}: a document ranks where its best passage does (max-p).

    ``rerank(query, hits) -> hits`` reorders each query's passages (a cross-encoder).
    """
    ids = list(queries)
    run: dict[str, list[str]] = {}
    passages = depth * 2  # documents split into several passages need more passages for ``depth`` documents
    for lo in range(0, len(ids), batch_size):
        chunk = ids[lo : lo + batch_size]
        results = index.search([queries[q] for q in chunk], top_k=passages, hybrid=hybrid)
        for q, hits in zip(chunk, results):
            if rerank is not None:
                hits = rerank(queries[q], hits)
            docs: list[str] = []
            for hit in hits:
                if hit.doc_id not in docs:
                    docs.append(hit.doc_id)
            run[q] = docs[:depth]
    return run


def evaluate_index(index, queries: Mapping[str, str], qrels: Mapping[str, Mapping[str, int]], *, hybrid: bool = False,
                   rerank: Callable | None = None) -> dict[str, float]:
    """The metrics of :func:`bertkit.retrieval.metrics.evaluate_run` over the judged queries, plus timing."""
    judged = {q: queries[q] for q in qrels if q in queries}
    start = time.perf_counter()
    run = retrieve_documents(index, judged, hybrid=hybrid, rerank=rerank)
    seconds = time.perf_counter() - start
    result = evaluate_run(run, {q: qrels[q] for q in judged})
    return {**result, "missing_queries": len(set(qrels) - set(queries)), "seconds": round(seconds, 3)}
