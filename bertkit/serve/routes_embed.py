"""Embedding routes: /embed, /embed_all, /tokenize (text-embeddings-inference) and
/v1/embeddings (OpenAI)."""

from __future__ import annotations

import asyncio
import base64
import time

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bertkit.serve.budget import check_embed_all, count_tokens
from bertkit.serve.errors import ApiError
from bertkit.serve.models import SIMILARITY_POOLINGS
from bertkit.serve.schemas import EmbedAllRequest, EmbedRequest, SimilarityRequest, ErrorResponse, OpenAIEmbeddingsRequest, OpenAIEmbeddingsResponse, TokenInfo, TokenizeRequest

__all__ = ["router", "text_list", "token_budget", "token_costs"]

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 422, 429, 500, 503)}
router = APIRouter(responses=_ERRORS)


def text_list(inputs, limit: int, field: str = "inputs") -> list[str]:
    """A str or list of str as a list; 400 when empty, 422 over the client batch limit."""
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    if not texts:
        raise ApiError(400, f"{field} is empty: send at least one text", "Empty")
    if len(texts) > limit:
        raise ApiError(422, f"batch size {len(texts)} > maximum allowed batch size {limit} (--max-client-batch-size)")
    for i, t in enumerate(texts):
        if not t.strip():
            raise ApiError(400, f"{field}[{i}] is an empty text", "Empty")
    return texts


def token_costs(counts: list[int], max_length: int, truncate: bool) -> list[int]:
    """Tokens each text puts into a batch: a truncated text counts at most max_length."""
    return [min(c, max_length) for c in counts] if truncate else list(counts)


def token_budget(counts: list[int], max_length: int, truncate: bool) -> int:
    """Tokens the request puts into a batch."""
    return sum(token_costs(counts, max_length, truncate))


async def _embed(state, texts: list[str], truncate: bool) -> tuple[np.ndarray, object, int]:
    model = state.model("embed")
    counts = await count_tokens(state, model.counter, texts)
    results, timing = await state.batcher("embed").submit((model.run_embed, truncate), texts, token_costs(counts, model.max_length, truncate))
    return np.stack(results), timing, sum(counts)


def _normalized(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@router.post("/embed", response_model=list[list[float]])
async def embed(body: EmbedRequest, request: Request):
    """One vector per input, in input order (text-embeddings-inference's /embed)."""
    started = time.perf_counter()
    state = request.app.state.bertkit
    texts = text_list(body.inputs, state.options.max_client_batch_size)
    vectors, timing, _ = await _embed(state, texts, body.truncate)
    if body.normalize:
        vectors = _normalized(vectors)
    return JSONResponse(vectors.tolist(), headers=timing.headers(started))


@router.post("/embed_all", response_model=list[list[list[float]]])
async def embed_all(body: EmbedAllRequest, request: Request):
    """Every token's vector (from the pooled layers), per input."""
    started = time.perf_counter()
    state = request.app.state.bertkit
    texts = text_list(body.inputs, state.options.max_client_batch_size)
    model = state.model("embed")
    costs = token_costs(await count_tokens(state, model.counter, texts), model.max_length, body.truncate)
    check_embed_all(state, sum(costs), model.dim)
    results, timing = await state.batcher("embed").submit((model.run_tokens, body.truncate), texts, costs)
    return JSONResponse([r.tolist() for r in results], headers=timing.headers(started))


@router.post("/tokenize", response_model=list[list[TokenInfo]])
async def tokenize(body: TokenizeRequest, request: Request):
    """The tokens of each input: id, text, special, character start/stop (None for special tokens)."""
    state = request.app.state.bertkit
    texts = text_list(body.inputs, state.options.max_client_batch_size)
    counter = state.model("embed").counter
    await count_tokens(state, counter, texts)
    return JSONResponse(await asyncio.to_thread(counter.tokens, texts, body.add_special_tokens))


@router.post("/similarity", response_model=list[float])
async def similarity(body: SimilarityRequest, request: Request):
    """Cosine similarity of the source sentence with each sentence (text-embeddings-inference's
    /similarity); ``pooling`` picks another parameter-free pooling of the same encoder."""
    started = time.perf_counter()
    state = request.app.state.bertkit
    model = state.model("embed")
    if body.pooling is not None and body.pooling != model.pooling and body.pooling not in SIMILARITY_POOLINGS:
        raise ApiError(422, f"unknown pooling {body.pooling!r}; valid options: {', '.join(SIMILARITY_POOLINGS)}")
    sentences = text_list(body.inputs.sentences, state.options.max_client_batch_size, "inputs.sentences")
    source = text_list(body.inputs.source_sentence, 1, "inputs.source_sentence")[0]
    counts = token_costs(await count_tokens(state, model.counter, [source, *sentences]), model.max_length, True)
    items = [(source, s) for s in sentences]
    scores, timing = await state.batcher("embed").submit((model.run_similarity, body.pooling), items, [counts[0] + c for c in counts[1:]])
    return JSONResponse(scores, headers=timing.headers(started))


@router.post("/v1/embeddings", response_model=OpenAIEmbeddingsResponse)
async def openai_embeddings(body: OpenAIEmbeddingsRequest, request: Request):
    """OpenAI's embeddings API (normalised vectors; ``encoding_format`` float or base64; ``usage``)."""
    started = time.perf_counter()
    state = request.app.state.bertkit
    texts = text_list(body.input, state.options.max_client_batch_size, "input")
    model = state.model("embed")
    if body.dimensions is not None and body.dimensions != model.dim:
        raise ApiError(422, f"dimensions {body.dimensions} is not available; this model gives {model.dim}")
    vectors, timing, tokens = await _embed(state, texts, False)
    vectors = _normalized(vectors).astype(np.float32)
    if body.encoding_format == "base64":
        data = [base64.b64encode(v.tobytes()).decode("ascii") for v in vectors]
    else:
        data = vectors.tolist()
    payload = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(data)],
        "model": body.model or model.name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return JSONResponse(payload, headers=timing.headers(started))
