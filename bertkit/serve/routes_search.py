"""``POST /search``: the passages of the served index (``bertkit serve --index DIR``) for queries.

Body: ``{"query": "..."}`` or ``{"queries": [...]}``, with ``top_k`` (default 10),
``filter`` (metadata field -> value or list of values) and ``hybrid`` (BM25 fused with
dense by reciprocal rank fusion). Answer: ``{"query", "hits": [hit, ...]}`` for one query,
``{"results": [{"query", "hits"}, ...]}`` for a list; a hit is
:meth:`bertkit.retrieval.Hit.to_dict` (passage_id, doc_id, score, text, start, end,
metadata). The index is loaded once on first use (shared with ``/answer``); the search
runs in a worker thread. Bad input: 400 / 422 with a JSON error; queries over
``--max-input-tokens`` (counted by the index's encoder): 413.
"""

from __future__ import annotations

import time
from typing import Optional

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bertkit.errors import ParameterError
from bertkit.serve.budget import EncoderCounter, count_tokens
from bertkit.serve.errors import ApiError
from bertkit.serve.routes_embed import _ERRORS, text_list
from bertkit.serve.routes_rerank import _parts

__all__ = ["router", "SearchRequest", "MAX_TOP_K"]

MAX_TOP_K = 1000
router = APIRouter(responses=_ERRORS)


class SearchRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    query: Optional[str] = Field(None, description="One query (or give queries).")
    queries: Optional[list[str]] = Field(None, description="Several queries, each answered in order.")
    top_k: int = Field(10, ge=1, le=MAX_TOP_K, description="Passages per query.")
    filter: Optional[dict] = Field(None, description='Metadata filter, e.g. {"source": "wiki"} or {"source": ["wiki", "news"]}.')
    hybrid: bool = Field(False, description="Fuse dense and BM25 rankings (reciprocal rank fusion, k=60).")


@router.post("/search")
async def search(body: SearchRequest, request: Request):
    """The ``top_k`` passages per query, best first, with their document, span, score and metadata."""
    started = time.perf_counter()
    if (body.query is None) == (body.queries is None):
        raise ApiError(422, "give exactly one of query (a string) and queries (a list of strings)")
    state = request.app.state.bertkit
    texts = text_list(body.query if body.query is not None else body.queries, state.options.max_client_batch_size,
                      "query" if body.query is not None else "queries")
    index = await run_in_threadpool(_parts(request).get, "index")
    await count_tokens(state, EncoderCounter(index.embedder.encoder), texts)  # 413 over --max-input-tokens
    try:
        results = await run_in_threadpool(lambda: index.search(texts, body.top_k, filter=body.filter, hybrid=body.hybrid))
    except ParameterError as exc:
        raise ApiError(422 if exc.param == "top_k" else 400, str(exc)) from None
    rows = [{"query": q, "hits": [h.to_dict() for h in hits]} for q, hits in zip(texts, results)]
    headers = {"x-total-time": str(round((time.perf_counter() - started) * 1000))}
    return JSONResponse(rows[0] if body.query is not None else {"results": rows}, headers=headers)
