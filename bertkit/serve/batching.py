"""Dynamic batching: requests from concurrent clients merged into one engine call.

One :class:`Batcher` per model. Requests wait in an asyncio queue; while the model's
single worker thread runs a batch, new requests pile up, and the next batch takes the
oldest request plus every waiting request with the same key (same operation and
options) that still fits in ``max_batch_tokens``. A request larger than the budget is
split: the batch takes as many of its texts as fit (at least one), and the rest goes to
the back of the queue, so requests that arrived meanwhile run before its next slice and
one heavy request never starves the others. The engine sorts the merged texts by length
internally; the results are put back into each request's own order. A failing merged
batch is retried request by request, so one bad request never fails its neighbours.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

__all__ = ["Batcher", "QueueFull", "Timing"]


class QueueFull(Exception):
    """The model's queue holds ``max_queue`` requests already."""


@dataclass
class Timing:
    queue: float  # seconds waited before the batch started
    inference: float  # seconds the merged batch took
    tokens: int  # this request's tokens
    batch_texts: int  # texts in the merged batch

    def headers(self, started: float) -> dict[str, str]:
        """Per-response timing (milliseconds since ``started``, a perf_counter) and tokens,
        named as text-embeddings-inference names them."""
        return {
            "x-queue-time": f"{self.queue * 1000:.2f}",
            "x-inference-time": f"{self.inference * 1000:.2f}",
            "x-total-time": f"{(time.perf_counter() - started) * 1000:.2f}",
            "x-compute-tokens": str(self.tokens),
            "x-batch-size": str(self.batch_texts),
        }


@dataclass
class _Job:
    key: Hashable
    items: list
    costs: list[float]  # tokens per item
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)
    done: int = 0  # items whose results are in
    results: list = field(default_factory=list)
    started: float | None = None  # when its first slice started
    inference: float = 0.0  # seconds of the merged batches it was in
    batch_texts: int = 0  # texts in the largest merged batch it was in

    @property
    def tokens(self) -> int:
        return int(round(sum(self.costs)))

    def remaining(self) -> float:
        return sum(self.costs[self.done :])

    def fit(self, budget: float) -> int:
        """How many of the next items fit ``budget`` tokens (at least one)."""
        n, used = 0, 0.0
        for cost in self.costs[self.done :]:
            if n and used + cost > budget:
                break
            n, used = n + 1, used + cost
        return n


Runner = Callable[[Hashable, list], list]  # (key, merged items) -> one result per item


def _costs(items: list, tokens) -> list[float]:
    """Tokens per item: given per item, or a request total spread evenly."""
    if isinstance(tokens, (int, float)):
        return [tokens / len(items)] * len(items) if items else []
    costs = [float(t) for t in tokens]
    if len(costs) != len(items):
        raise ValueError(f"{len(costs)} token counts for {len(items)} items")
    return costs


class Batcher:
    """Queue + merge + run off the event loop for one model.

    ``runner(key, items)`` is called in the batcher's own thread; ``key`` must be
    hashable and equal for requests that may share a batch; items must be independent
    (a request may be answered over several batches).
    """

    def __init__(self, name: str, runner: Runner, *, max_batch_tokens: int, max_queue: int, metrics=None) -> None:
        self.name = name
        self.runner = runner
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self.metrics = metrics
        self._queue: deque[_Job] = deque()
        self._wakeup: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"bertkit-{name}")

    def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"bertkit-batcher-{self.name}")

    @property
    def depth(self) -> int:
        return len(self._queue)

    async def submit(self, key: Hashable, items: list, tokens) -> tuple[list, Timing]:
        """Queue ``items`` and wait for their results (in order) and this request's timing.
        ``tokens``: one count per item (lets a large request be split), or the total."""
        if len(self._queue) >= self.max_queue:
            raise QueueFull(f"the {self.name} queue is full ({self.max_queue} requests waiting); retry later")
        items = list(items)
        job = _Job(key, items, _costs(items, tokens), asyncio.get_running_loop().create_future())
        if not items:
            return [], Timing(0.0, 0.0, 0, 0)
        self._queue.append(job)
        self._gauge()
        self._idle.clear()
        self._wakeup.set()
        return await job.future

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.name).set(len(self._queue))

    def _take(self) -> list[tuple[_Job, int]]:
        """(job, items) parts of the next batch: as much of the oldest live job as fits the
        token budget, then each waiting job with its key whose remaining items all fit."""
        self._queue = deque(j for j in self._queue if not j.future.done())  # gone: their clients left
        if not self._queue:
            return []
        first = self._queue.popleft()
        n = first.fit(self.max_batch_tokens)
        parts, budget, rest = [(first, n)], self.max_batch_tokens - sum(first.costs[first.done : first.done + n]), deque()
        while self._queue:
            job = self._queue.popleft()
            if job.key == first.key and job.remaining() <= budget:
                parts.append((job, len(job.items) - job.done))
                budget -= job.remaining()
            else:
                rest.append(job)
        self._queue = rest
        return parts

    async def _loop(self) -> None:
        while True:
            parts = self._take()
            self._gauge()
            if not parts:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._run(parts)

    async def _run(self, parts: list[tuple[_Job, int]]) -> None:
        loop = asyncio.get_running_loop()
        items = [x for job, n in parts for x in job.items[job.done : job.done + n]]
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self.runner, parts[0][0].key, items)
            if len(results) != len(items):
                raise RuntimeError(f"{self.name} engine returned {len(results)} results for {len(items)} inputs")
        except Exception as exc:  # noqa: BLE001 - handed to each request
            if len(parts) > 1:  # find the culprit: each request alone
                for part in parts:
                    await self._run([part])
            elif not parts[0][0].future.done():
                parts[0][0].future.set_exception(exc)
            return
        seconds = time.perf_counter() - started
        self._observe(parts, len(items), started, seconds)
        offset = 0
        for job, n in parts:
            job.results.extend(results[offset : offset + n])
            job.done += n
            offset += n
            job.started = started if job.started is None else job.started
            job.inference += seconds
            job.batch_texts = max(job.batch_texts, len(items))
            if job.future.done():
                continue
            if job.done < len(job.items):
                self._queue.append(job)  # its next slice after the requests that came meanwhile
                self._wakeup.set()
            else:
                job.future.set_result((job.results, Timing(job.started - job.enqueued, job.inference, job.tokens, job.batch_texts)))

    def _observe(self, parts: list[tuple[_Job, int]], texts: int, started: float, seconds: float) -> None:
        if self.metrics is None:
            return
        m = self.metrics
        m.inference_seconds.labels(self.name).observe(seconds)
        m.batch_size.labels(self.name).observe(texts)
        m.batch_tokens.labels(self.name).observe(sum(sum(job.costs[job.done : job.done + n]) for job, n in parts))
        for job, _ in parts:
            if job.started is None:
                m.queue_seconds.labels(self.name).observe(started - job.enqueued)

    async def drain(self) -> None:
        """Wait until every queued request has its result."""
        if self._idle is not None:
            while self._queue or not self._idle.is_set():
                await self._idle.wait()
                if self._queue:
                    await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Finish the queued work, stop the loop and the worker thread."""
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)
