"""Rerank and open-domain routes: ``POST /rerank`` (text-embeddings-inference's shape),
``POST /v1/rerank`` (the Cohere / Jina shape vLLM and infinity serve) and ``POST /answer``
without a context (retrieve from the served index, rerank, read).

The reranker and the index are attached to the app by :func:`attach` (``bertkit serve
--rerank DIR --index DIR``) and loaded on first use, once, under a lock; the work runs in
a worker thread so the event loop stays free. Bad input gets a 4xx JSON error (ApiError).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Optional, Union

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bertkit.serve.budget import EncoderCounter, count_pair_tokens, count_tokens
from bertkit.serve.errors import ApiError
from bertkit.serve.routes_embed import _ERRORS, text_list

__all__ = ["router", "open_router", "attach", "RerankParts", "TeiRerankRequest", "CohereRerankRequest", "OpenAnswerRequest"]

router = APIRouter(responses=_ERRORS)


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)


class TeiRerankRequest(_Body):
    query: str
    texts: list[str]
    raw_scores: bool = Field(False, description="Raw logits instead of sigmoid scores.")
    return_text: bool = Field(False, description="Return each text with its result.")
    truncate: bool = Field(False, description="Cut pairs longer than the model's maximum length (false: 413 for such a pair).")
    truncation_direction: str = Field("right", description="Only 'right' (tokens are removed from the end).")


class _Document(_Body):
    text: str


class CohereRerankRequest(_Body):
    model: Optional[str] = None
    query: str
    documents: list[Union[str, _Document]]
    top_n: Optional[int] = Field(None, ge=1)
    return_documents: bool = False


class OpenAnswerRequest(_Body):
    question: Union[str, list[str]]
    passages: int = Field(5, ge=1, le=50, description="Passages read per question (after reranking).")
    rerank: bool = Field(True, description="Rerank the retrieved passages when a reranker is served.")
    null_threshold: Optional[float] = None


class RerankParts:
    """The served reranker and index (paths or ready objects), loaded once on first use."""

    def __init__(self, rerank=None, index=None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto") -> None:
        self._given = {"rerank": rerank, "index": index}
        self._loaded: dict = {}
        self._args = dict(backend=backend, dtype=dtype, device=device)
        self._lock = threading.Lock()

    def served(self, name: str) -> bool:
        return self._given[name] is not None

    def get(self, name: str):
        if not self.served(name):
            flag = "--rerank DIR" if name == "rerank" else "--index DIR"
            raise ApiError(404, f"no {'reranker' if name == 'rerank' else 'index'} is served here (start it with {flag})", "NotFound")
        with self._lock:
            if name not in self._loaded:
                given = self._given[name]
                self._loaded[name] = given if not isinstance(given, str) else self._load(name, given)
        return self._loaded[name]

    def _load(self, name: str, path: str):
        if name == "rerank":
            from bertkit.rerank import load_reranker

            return load_reranker(None if path == "default" else path, **self._args)
        from bertkit.retrieval import Index

        return Index.load(path)


def attach(app, rerank=None, index=None, **runtime) -> RerankParts:
    """Serve ``rerank`` / ``index`` (directories or loaded objects) on ``app``."""
    parts = RerankParts(rerank, index, **runtime)
    app.state.bertkit_rerank = parts
    return parts


def _parts(request: Request) -> RerankParts:
    parts = getattr(request.app.state, "bertkit_rerank", None)
    return parts if parts is not None else RerankParts()


def _check_lengths(reranker, pairs: list[int]) -> None:
    """413 for a (query, text) pair over the model's maximum length (TEI's truncate=false)."""
    limit = reranker.encoder.max_length
    for i, tokens in enumerate(pairs):
        if tokens > limit:
            raise ApiError(413, f"texts[{i}]: query + text is {tokens} tokens, over the model's {limit}; send truncate: true")


def _texts(query: str, texts: list[str], limit: int, field: str) -> list[str]:
    if not query.strip():
        raise ApiError(400, "query is empty", "Empty")
    return text_list(texts, limit, field)


@router.post("/rerank", summary="Rerank texts for a query (text-embeddings-inference's shape)")
async def rerank_tei(body: TeiRerankRequest, request: Request):
    """``[{"index", "score", "text"?}]``, best first; scores are sigmoid probabilities unless ``raw_scores``."""
    started = time.perf_counter()
    state = request.app.state.bertkit
    texts = _texts(body.query, body.texts, state.options.max_client_batch_size, "texts")
    if body.truncation_direction.lower() != "right":
        raise ApiError(422, f"truncation_direction {body.truncation_direction!r} is not supported; valid: right")
    reranker = await run_in_threadpool(_parts(request).get, "rerank")
    pairs = await count_pair_tokens(state, EncoderCounter(reranker.encoder), body.query, texts)  # 413 over --max-input-tokens
    if not body.truncate:
        _check_lengths(reranker, pairs)
    results = await run_in_threadpool(reranker.rank, body.query, texts, None, raw=body.raw_scores)
    out = [{"index": r.index, "score": r.score, **({"text": r.text} if body.return_text else {})} for r in results]
    return JSONResponse(out, headers={"x-total-time": str(int(1000 * (time.perf_counter() - started)))})


@router.post("/v1/rerank", summary="Rerank documents for a query (the Cohere / Jina API)")
async def rerank_cohere(body: CohereRerankRequest, request: Request):
    """``{"id", "results": [{"index", "relevance_score", "document"?}], "model", "usage"}``, best first."""
    state = request.app.state.bertkit
    docs = [d if isinstance(d, str) else d.text for d in body.documents]
    texts = _texts(body.query, docs, state.options.max_client_batch_size, "documents")
    reranker = await run_in_threadpool(_parts(request).get, "rerank")
    pairs = await count_pair_tokens(state, EncoderCounter(reranker.encoder), body.query, texts)  # 413 over --max-input-tokens
    results = await run_in_threadpool(reranker.rank, body.query, texts, body.top_n)
    tokens = sum(pairs)
    out = [{"index": r.index, "relevance_score": r.score, **({"document": {"text": r.text}} if body.return_documents else {})}
           for r in results]
    return JSONResponse({"id": uuid.uuid4().hex, "results": out, "model": body.model or reranker.name,
                         "usage": {"total_tokens": int(tokens)}})


async def answer_from_index(body: dict, request: Request):
    """``/answer`` without a context: retrieve from the served index, rerank, read."""
    try:
        req = OpenAnswerRequest(**body)
    except Exception as exc:  # noqa: BLE001 - pydantic's message, as one line
        raise ApiError(422, f"invalid request: {str(exc).splitlines()[0][:200]}") from None
    state = request.app.state.bertkit
    single = isinstance(req.question, str)
    questions = text_list(req.question, state.options.max_client_batch_size, "question")
    parts = _parts(request)
    qa = state.model("qa")
    await count_tokens(state, qa.counter, questions)  # 413 over --max-input-tokens, before any retrieval
    index = await run_in_threadpool(parts.get, "index")
    reranker = await run_in_threadpool(parts.get, "rerank") if req.rerank and parts.served("rerank") else None
    reader = qa.reader
    answers = await run_in_threadpool(lambda: reader.answer(questions, index=index, rerank=reranker, passages=req.passages,
                                                            null_threshold=req.null_threshold))
    out = [a.to_dict() for a in answers]
    return JSONResponse(out[0] if single else out)


open_router = APIRouter(responses=_ERRORS)  # included before the task routes when an index is served


@open_router.post("/answer", include_in_schema=False)
async def answer_dispatch(request: Request):
    """``/answer`` with a ``context``: the task route as always; without one: from the index."""
    from fastapi.exceptions import RequestValidationError
    from pydantic import ValidationError

    from bertkit.serve.routes_tasks import answer as answer_with_context
    from bertkit.serve.schemas import AnswerRequest

    try:
        body = await request.json()
    except ValueError:
        raise ApiError(422, "the request body must be a JSON object (Content-Type: application/json)") from None
    if not isinstance(body, dict):
        raise ApiError(422, "the request body must be a JSON object")
    if "context" not in body:
        return await answer_from_index(body, request)
    try:
        parsed = AnswerRequest(**body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return await answer_with_context(parsed, request)


@router.get("/rerank/info", summary="What the rerank and corpus routes serve")
async def rerank_info(request: Request):
    """``{"rerank": bool, "index": bool}``: whether a reranker and an index are served (the page's corpus panel asks)."""
    parts = _parts(request)
    return {"rerank": parts.served("rerank"), "index": parts.served("index")}
