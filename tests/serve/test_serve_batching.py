"""The dynamic batcher on its own: merging by key and token budget, order, failure isolation."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bertkit.errors import UsageError
from bertkit.serve.batching import Batcher, QueueFull
from bertkit.serve.options import ServeOptions, parse_size


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


class Recorder:
    """A runner that records each merged call and can hold the first one."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, list]] = []
        self.hold = threading.Event()
        self.hold.set()

    def __call__(self, key, items):
        self.hold.wait(10)
        self.calls.append((key, list(items)))
        if "bad" in items:
            raise RuntimeError("bad input in batch")
        return [f"{key}:{x}" for x in items]


def test_waiting_requests_merge_by_key_within_the_budget():
    rec = Recorder()

    async def main():
        b = Batcher("t", rec, max_batch_tokens=10, max_queue=100)
        b.start()
        rec.hold.clear()
        first = asyncio.create_task(b.submit("a", ["x0"], 1))  # taken alone while the rest queue
        await asyncio.sleep(0.05)
        jobs = [asyncio.create_task(b.submit(k, [f"{k}{i}", f"{k}{i}b"], 4)) for i, k in enumerate("aabab")]
        await asyncio.sleep(0.05)
        rec.hold.set()
        results = await asyncio.gather(first, *jobs)
        await b.close()
        return results

    results = _run(main())
    assert [r for r, _ in results] == [["a:x0"], ["a:a0", "a:a0b"], ["a:a1", "a:a1b"], ["b:b2", "b:b2b"], ["a:a3", "a:a3b"], ["b:b4", "b:b4b"]]
    keys_and_sizes = [(k, len(items)) for k, items in rec.calls]
    assert keys_and_sizes[0] == ("a", 1)
    assert ("a", 4) in keys_and_sizes and ("b", 4) in keys_and_sizes  # two 4-token requests fit a 10-token budget, not three
    assert all(len(items) <= 4 for _, items in rec.calls[1:])
    timing = results[1][1]
    assert timing.tokens == 4 and timing.batch_texts == 4 and timing.queue > 0


def test_a_request_over_the_budget_is_split_and_others_run_between_its_slices():
    rec = Recorder()

    async def main():
        b = Batcher("t", rec, max_batch_tokens=6, max_queue=100)
        b.start()
        rec.hold.clear()
        heavy = asyncio.create_task(b.submit("k", [f"h{i}" for i in range(10)], [2] * 10))
        await asyncio.sleep(0.05)  # its first slice is running
        small = asyncio.create_task(b.submit("k", ["s"], [1]))
        huge = asyncio.create_task(b.submit("k", ["one long text"], [50]))  # a single item over the budget still runs
        await asyncio.sleep(0.05)
        rec.hold.set()
        results = await asyncio.gather(heavy, small, huge)
        await b.close()
        return results

    (heavy, timing), (small, _), (huge, _) = _run(main())
    assert heavy == [f"k:h{i}" for i in range(10)] and small == ["k:s"] and huge == ["k:one long text"]
    batches = [items for _, items in rec.calls]
    assert batches[0] == ["h0", "h1", "h2"]  # 3 x 2 tokens fill the budget of 6
    assert batches[1] == ["s"] and batches[2] == ["one long text"]  # the waiting requests ran before the next slice
    assert all(len(x) <= 3 for x in batches) and sum(len(x) for x in batches) == 12
    assert timing.tokens == 20 and timing.batch_texts == 3


def test_one_failing_request_does_not_fail_its_neighbours():
    rec = Recorder()

    async def main():
        b = Batcher("t", rec, max_batch_tokens=100, max_queue=100)
        b.start()
        rec.hold.clear()
        blocker = asyncio.create_task(b.submit("k", ["first"], 1))
        await asyncio.sleep(0.05)
        good = asyncio.create_task(b.submit("k", ["ok"], 1))
        bad = asyncio.create_task(b.submit("k", ["bad"], 1))
        await asyncio.sleep(0.05)
        rec.hold.set()
        out = await asyncio.gather(blocker, good, bad, return_exceptions=True)
        await b.close()
        return out

    blocker, good, bad = _run(main())
    assert good[0] == ["k:ok"] and blocker[0] == ["k:first"]
    assert isinstance(bad, RuntimeError)


def test_full_queue_refuses():
    rec = Recorder()

    async def main():
        b = Batcher("t", rec, max_batch_tokens=100, max_queue=1)
        b.start()
        rec.hold.clear()
        running = asyncio.create_task(b.submit("k", ["1"], 1))
        await asyncio.sleep(0.05)
        waiting = asyncio.create_task(b.submit("k", ["2"], 1))
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFull):
            await b.submit("k", ["3"], 1)
        rec.hold.set()
        await asyncio.gather(running, waiting)
        await b.close()

    _run(main())


def test_parse_size_and_options():
    assert parse_size("2MB") == 2_000_000 and parse_size("512KiB") == 512 * 1024 and parse_size("100") == 100
    for bad in ("lots", "2XB", "0"):
        with pytest.raises(UsageError, match="payload-limit"):
            parse_size(bad)
    with pytest.raises(UsageError, match="max-client-batch-size"):
        ServeOptions(max_client_batch_size=0)
    with pytest.raises(UsageError, match="nothing to serve"):
        ServeOptions(serve_embed=False, serve_classify=False, serve_qa=False)
    assert ServeOptions(max_concurrent_requests=7).queue_limit == 7
