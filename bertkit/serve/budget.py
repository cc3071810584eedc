"""Per-request work limits, as text-embeddings-inference sets them.

- :func:`count_tokens`: a request's token counts, computed off the event loop (a 2 MB text
  takes a while to tokenise and must not stall other clients), refused with 413 above
  ``--max-input-tokens`` before any model work is queued; every POST route that runs a
  model applies it (the rerank routes count each (query, text) pair as the cross-encoder
  reads it: :func:`count_pair_tokens`);
- :func:`check_embed_all`: ``/embed_all`` answers at most ``--max-embed-all-tokens`` token
  vectors (its answer grows as tokens x hidden size floats).

The dynamic batcher then splits a request into slices of at most ``--max-batch-tokens``
and interleaves them with other requests' (batching.py), so one large request never holds
the model while small ones wait.
"""

from __future__ import annotations

import asyncio

from bertkit.serve.errors import ApiError

__all__ = ["EncoderCounter", "count_tokens", "count_pair_tokens", "check_embed_all"]


class EncoderCounter:
    """An encoder's token counts (a reranker's, an index's embedder's) as ``count(texts)``,
    the shape of a served model's ``TokenCounter``."""

    def __init__(self, encoder) -> None:
        self.count = encoder.count_tokens  # thread-safe: a private, non-truncating tokenizer copy


def _check_total(state, total: int) -> None:
    limit = state.options.max_input_tokens
    if total > limit:
        raise ApiError(413, f"the request holds {total} tokens, over the limit of {limit} per request (--max-input-tokens); "
                            "send fewer or shorter texts in several requests")


async def count_tokens(state, counter, texts: list[str]) -> list[int]:
    """Token counts of ``texts`` (special tokens included); 413 when their sum is over
    ``--max-input-tokens``. ``counter`` is a model's ``TokenCounter`` (or an :class:`EncoderCounter`)."""
    counts = await asyncio.to_thread(counter.count, texts)
    _check_total(state, sum(counts))
    return counts


async def count_pair_tokens(state, counter, query: str, texts: list[str]) -> list[int]:
    """Tokens of each ``[CLS] query [SEP] text [SEP]`` pair (the query is read once per text);
    413 when their sum is over ``--max-input-tokens``."""
    counts = await asyncio.to_thread(counter.count, [query, *texts])
    pairs = [counts[0] + c - 1 for c in counts[1:]]  # one [CLS] and [SEP] of the two are shared
    _check_total(state, sum(pairs))
    return pairs


def check_embed_all(state, tokens: int, dim: int) -> None:
    """413 when an /embed_all answer would hold more than ``--max-embed-all-tokens`` vectors."""
    limit = state.options.max_embed_all_tokens
    if tokens > limit:
        raise ApiError(413, f"the answer would hold {tokens} token vectors of {dim} floats, over the limit of {limit} "
                            "(--max-embed-all-tokens); send fewer or shorter texts, or use /embed for one vector per text")
