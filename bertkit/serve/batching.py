"""Dynamic batching: requests from concurrent clients merged into one engine call.

One :class:`Batcher` per model. Requests wait in an asyncio queue; while the model's
single worker thread runs a batch, new requests pile up, and the next batch takes the
oldest request plus every waiting request with the same key (same operation and
options) that still fits in ``max_batch_tokens``. The engine sorts the merged texts by
length internally; the results are cut back into each request's own slice, in its own
order. A failing merged batch is retried request by request, so one bad request never
fails its neighbours.
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
    tokens: int
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


Runner = Callable[[Hashable, list], list]  # (key, merged items) -> one result per item


class Batcher:
    """Queue + merge + run off the event loop for one model.

    ``runner(key, items)`` is called in the batcher's own thread; ``key`` must be
    hashable and equal for requests that may share a batch.
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

    async def submit(self, key: Hashable, items: list, tokens: int) -> tuple[list, Timing]:
        """Queue ``items`` and wait for their results (in order) and this request's timing."""
        if len(self._queue) >= self.max_queue:
            raise QueueFull(f"the {self.name} queue is full ({self.max_queue} requests waiting); retry later")
        job = _Job(key, list(items), tokens, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        self._gauge()
        self._idle.clear()
        self._wakeup.set()
        return await job.future

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.name).set(len(self._queue))

    def _take(self) -> list[_Job]:
        """The oldest live job and the waiting jobs with its key that fit the token budget."""
        while self._queue and self._queue[0].future.done():  # its client went away
            self._queue.popleft()
        if not self._queue:
            return []
        first = self._queue.popleft()
        jobs, budget, rest = [first], first.tokens, deque()
        while self._queue:
            job = self._queue.popleft()
            if job.future.done():
                continue
            if job.key == first.key and budget + job.tokens <= self.max_batch_tokens:
                jobs.append(job)
                budget += job.tokens
            else:
                rest.append(job)
        self._queue = rest
        return jobs

    async def _loop(self) -> None:
        while True:
            jobs = self._take()
            self._gauge()
            if not jobs:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._run(jobs)

    async def _run(self, jobs: list[_Job]) -> None:
        loop = asyncio.get_running_loop()
        items = [x for j in jobs for x in j.items]
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self.runner, jobs[0].key, items)
            if len(results) != len(items):
                raise RuntimeError(f"{self.name} engine returned {len(results)} results for {len(items)} inputs")
        except Exception as exc:  # noqa: BLE001 - handed to each request
            if len(jobs) > 1:  # find the culprit: each request alone
                for job in jobs:
                    await self._run([job])
            elif not jobs[0].future.done():
                jobs[0].future.set_exception(exc)
            return
        seconds = time.perf_counter() - started
        self._observe(jobs, len(items), started, seconds)
        offset = 0
        for job in jobs:
            n = len(job.items)
            if not job.future.done():
                job.future.set_result((results[offset : offset + n], Timing(started - job.enqueued, seconds, job.tokens, len(items))))
            offset += n

    def _observe(self, jobs: list[_Job], texts: int, started: float, seconds: float) -> None:
        if self.metrics is None:
            return
        m = self.metrics
        m.inference_seconds.labels(self.name).observe(seconds)
        m.batch_size.labels(self.name).observe(texts)
        m.batch_tokens.labels(self.name).observe(sum(j.tokens for j in jobs))
        for job in jobs:
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
