"""One progress display for a whole job: a bar on a terminal, a line a minute elsewhere.

A long command (``embed``, ``classify predict --input``, ``evaluate``, ``index build``)
makes one :class:`JobProgress` and hands it to the library; every loop inside (one per
8,192-text chunk, one per pass) advances that same display through
:func:`progress_bar`, so the user sees one bar with the job's texts, tokens/s and an
ETA for the whole job (the mean rate so far, not the last chunk's)::

    with JobProgress(total=len(texts), desc="embedding") as job:
        embedder = Embedder(model, progress=job)
        for texts, vectors in embedder.embed_stream(...):
            ...

On a terminal (stderr a TTY) it is a tqdm bar, erased when the job ends (the command's
summary line follows). Anywhere else (a log file, CI) it writes at most one plain line
every ``every`` seconds (default 60) and nothing at the end, as training does.

Library code keeps accepting ``progress: bool``: ``progress_bar(progress, total=...)``
gives a tqdm bar of its own for ``True``, nothing for ``False``, and a share of the job's
display for a :class:`JobProgress`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["JobProgress", "progress_bar", "format_duration"]


def format_duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class JobProgress:
    """The job's one display. ``total`` items (None: the loops announce theirs as they start).

    ``terminal``: None (stderr is a TTY), True (a tqdm bar) or False (plain lines through
    ``log``, at most one every ``every`` seconds). Thread-compatible, not thread-safe: one
    job, one caller.
    """

    def __init__(self, total: int | None = None, *, desc: str = "working", unit: str = "text",
                 terminal: bool | None = None, every: float = 60.0, log: Callable[[str], None] | None = None,
                 stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.total, self.fixed_total = (total or 0), total is not None
        self.desc, self.unit, self.every = desc, unit, every
        self.log = log or (lambda line: print(line, file=self.stream, flush=True))
        self.done = 0
        self.tokens = 0
        self.began = self.last_line = time.monotonic()
        self.lines = 0
        self._bar = None

    def __enter__(self) -> "JobProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def announce(self, items: int) -> None:
        """A loop of ``items`` more items starts (ignored when the total was given up front)."""
        if not self.fixed_total:
            self.total += items
            if self._bar is not None:
                self._bar.total = self.total
                self._bar.refresh()

    def update(self, items: int, tokens: int = 0) -> None:
        """``items`` more done, holding ``tokens`` tokens."""
        self.done += items
        self.tokens += tokens
        now = time.monotonic()
        if self.terminal:
            bar = self._tqdm()
            bar.update(items)
            if self.tokens:
                bar.set_postfix_str(f"{self.tokens / max(now - self.began, 1e-9):,.0f} tok/s", refresh=False)
        elif now - self.last_line >= self.every and self.done < self.total:
            self.last_line = now
            self.lines += 1
            self.log(self.line(now))

    def line(self, now: float | None = None) -> str:
        """``embedding: 8,192/20,000 texts (41%), 2,310 tokens/s, about 1.2 min left``."""
        elapsed = max((now or time.monotonic()) - self.began, 1e-9)
        parts = [f"{self.desc}: {self.done:,}/{self.total:,} {self.unit}s ({100 * self.done / max(self.total, 1):.0f}%)"]
        if self.tokens:
            parts.append(f"{self.tokens / elapsed:,.0f} tokens/s")
        if self.done > 0:
            parts.append(f"about {format_duration((self.total - self.done) * elapsed / self.done)} left")
        return ", ".join(parts)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _tqdm(self):
        if self._bar is None:
            from tqdm.auto import tqdm

            # smoothing=0: the rate (and so the ETA) is the job's mean so far, not the last batch's
            self._bar = tqdm(total=self.total, desc=self.desc, unit=self.unit, file=self.stream, leave=False,
                             smoothing=0, dynamic_ncols=True, mininterval=0.2)
        return self._bar


class _Share:
    """One loop's part of a job: ``steps`` of its own count as ``items`` of the job's."""

    def __init__(self, job: JobProgress, steps: int, items: int | None) -> None:
        self.job, self.steps = job, steps
        self.items = steps if items is None else int(items)
        self.done = self.sent = 0  # own steps done; whole job items passed on
        job.announce(self.items)

    def update(self, steps: int = 1, tokens: int = 0) -> None:
        self.done += steps
        target = self.items if self.done >= self.steps else self.done * self.items // max(self.steps, 1)
        self.job.update(target - self.sent, tokens)  # whole items only: the bar shows 8192/20000, not 8191.7
        self.sent = target

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass  # the job's display outlives its loops

    def __enter__(self) -> "_Share":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Bar:
    """A loop's own tqdm bar (``progress=True``) or nothing (``False``), with ``update(n, tokens)``."""

    def __init__(self, enabled: bool, total: int, desc: str, unit: str) -> None:
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False)

    def update(self, steps: int = 1, tokens: int = 0) -> None:
        if self._bar is not None:
            self._bar.update(steps)

    def set_postfix(self, *args, **kwargs) -> None:
        if self._bar is not None:
            self._bar.set_postfix(*args, **kwargs)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "_Bar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(progress: bool | JobProgress | None, *, total: int, desc: str = "working", unit: str = "text",
                 counts_as: int | None = None):
    """The bar of one loop of ``total`` steps, as ``progress`` asks (see the module doc).

    ``counts_as``: how many of the job's items the loop's ``total`` steps are worth (an
    embedding chunk of 8,192 texts split into 8,300 windows counts as 8,192 texts).
    """
    if isinstance(progress, JobProgress):
        return _Share(progress, total, counts_as)
    return _Bar(bool(progress), total, desc, unit)
