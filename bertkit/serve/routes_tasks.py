"""Task routes: /predict (classification, text-embeddings-inference's shape), /answer
(extractive question answering) and /tag (named entities)."""

from __future__ import annotations

import math
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bertkit.serve.budget import count_tokens
from bertkit.serve.errors import ApiError
from bertkit.serve.models import Question
from bertkit.serve.routes_embed import _ERRORS, text_list
from bertkit.serve.schemas import Answer, AnswerRequest, Entity, PredictRequest, Score, TagRequest

__all__ = ["router", "predict_items", "tag_items"]

router = APIRouter(responses=_ERRORS)


def predict_items(inputs, pairs: bool, limit: int) -> tuple[list[tuple[str, str | None]], bool]:
    """(text, pair) items and whether the request was a single input.

    A string is one input; a list of strings is a batch, except that for a pair model a
    two-string list is one pair (as in text-embeddings-inference); a list of lists holds
    one text or a [text, pair] each.
    """
    if isinstance(inputs, str):
        raw, single = [[inputs]], True
    elif inputs and all(isinstance(x, str) for x in inputs):
        single = pairs and len(inputs) == 2
        raw = [list(inputs)] if single else [[x] for x in inputs]
    else:
        raw, single = [list(x) for x in inputs], False
    text_list([r[0] if r else "" for r in raw], limit)  # empty / too many inputs
    items = []
    for i, item in enumerate(raw):
        if len(item) not in (1, 2):
            raise ApiError(422, f"inputs[{i}] has {len(item)} texts; give one text, or [text, pair]")
        if (len(item) == 2) != pairs:
            want = "[text, pair] lists" if pairs else "single texts"
            raise ApiError(422, f"inputs[{i}]: this model takes {want}")
        if len(item) == 2 and not item[1].strip():
            raise ApiError(400, f"inputs[{i}]: the pair text is empty", "Empty")
        items.append((item[0], item[1] if len(item) == 2 else None))
    return items, single


def _scores(probs, labels: list[str], top_k: int | None, raw: bool) -> list[dict]:
    order = sorted(range(len(labels)), key=lambda j: -float(probs[j]))[: top_k or len(labels)]
    return [{"label": labels[j], "score": math.log(max(float(probs[j]), 1e-45)) if raw else float(probs[j])} for j in order]


@router.post("/predict", response_model=list[Score] | list[list[Score]])
async def predict(body: PredictRequest, request: Request):
    """Label scores per input, best first: ``[{label, score}]`` for one input, a list of those for a batch.

    With ``explain``, each input gives ``{"predictions": [...], "explanation": {"tokens", "weights"}}``.
    """
    started = time.perf_counter()
    state = request.app.state.bertkit
    model = state.model("classify")
    items, single = predict_items(body.inputs, model.pairs, state.options.max_client_batch_size)
    counts = await count_tokens(state, model.counter, [t + (" " + p if p else "") for t, p in items])
    batcher = state.batcher("classify")
    probs, timing = await batcher.submit((model.run_predict, None), items, counts)
    results: list = [_scores(p, model.labels, body.top_k, body.raw_scores) for p in probs]
    if body.explain:
        explanations, _ = await batcher.submit((model.run_explain, None), items, counts)
        results = [{"predictions": r, "explanation": e} for r, e in zip(results, explanations)]
    return JSONResponse(results[0] if single else results, headers=timing.headers(started))


def _questions(body: AnswerRequest, limit: int) -> tuple[list[Question], bool]:
    single = isinstance(body.question, str)
    questions = text_list(body.question, limit, "question")
    if isinstance(body.context, str):
        contexts = text_list(body.context, limit, "context") * len(questions)
    else:
        contexts = text_list(body.context, limit, "context")
        if single or len(contexts) != len(questions):
            raise ApiError(422, f"{len(questions)} questions but {len(contexts)} contexts; give one context, or one per question")
    return [Question(q, c, body.null_threshold, body.token_probabilities) for q, c in zip(questions, contexts)], single


@router.post("/answer", response_model=Answer | list[Answer])
async def answer(body: AnswerRequest, request: Request):
    """The answer span in each context (character offsets), its score and probability, the
    best ``top_k`` candidates, and ``no_answer`` when the model finds none (SQuAD 2.0 models)."""
    started = time.perf_counter()
    state = request.app.state.bertkit
    model = state.model("qa")
    items, single = _questions(body, state.options.max_client_batch_size)
    counts = await count_tokens(state, model.counter, [q.question + " " + q.context for q in items])
    results, timing = await state.batcher("qa").submit((model.run_answer, body.null_threshold), items, counts)
    for r in results:
        r["candidates"] = r["candidates"][: body.top_k]
    return JSONResponse(results[0] if single else results, headers=timing.headers(started))


def tag_items(inputs, limit: int) -> tuple[list, list[str], bool]:
    """(items for the tagger, their texts for token counting, single input?): raw texts or word lists."""
    if isinstance(inputs, str) or (inputs and all(isinstance(x, str) for x in inputs)):
        texts = text_list(inputs, limit)
        return texts, texts, isinstance(inputs, str)
    if not inputs:
        raise ApiError(400, "inputs is empty: send at least one text", "Empty")
    if any(isinstance(x, str) for x in inputs):
        raise ApiError(422, "inputs mixes texts and word lists; send texts or word lists, not both")
    for i, words in enumerate(inputs):
        if not words or not all(w.strip() for w in words):
            raise ApiError(400, f"inputs[{i}] is empty or holds an empty word", "Empty")
    words = [list(w) for w in inputs]
    text_list([" ".join(w) for w in words], limit)  # the client batch limit
    return words, [" ".join(w) for w in words], False


@router.post("/tag", response_model=list[Entity] | list[list[Entity]])
async def tag(body: TagRequest, request: Request):
    """Named entities per input, in text order: ``[{type, text, start, end, score}]`` for one
    input, a list of those for a batch; ``start``/``end`` are character offsets into the input."""
    started = time.perf_counter()
    state = request.app.state.bertkit
    model = state.model("tag")
    items, texts, single = tag_items(body.inputs, state.options.max_client_batch_size)
    counts = await count_tokens(state, model.counter, texts)
    kind = "texts" if isinstance(items[0], str) else "words"  # merged batches never mix the two
    results, timing = await state.batcher("tag").submit((model.run_tag, kind), items, counts)
    return JSONResponse(results[0] if single else results, headers=timing.headers(started))
