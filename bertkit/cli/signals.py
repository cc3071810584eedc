"""Ctrl-C and SIGTERM for the ``bertkit`` command (never installed by the library).

Inside :func:`handle_signals` the first SIGINT or SIGTERM raises :class:`Stopped`
(a BaseException, so ``except Exception`` blocks cannot swallow it) wherever the main
thread is; every ``finally`` and atomic writer then removes its temporary files on the
way out. ``main()`` prints one line and exits with 130 (SIGINT) or 143 (SIGTERM).
Further signals while unwinding are ignored, so clean-up is not cut short.

Training commands wrap their work in :func:`resume_hint`, which adds where the last
checkpoint is and how to continue to that line.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Stopped", "handle_signals", "resume_hint"]

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
NAMES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Stopped(BaseException):
    """The CLI process got SIGINT or SIGTERM; ``code`` is the exit code, ``message`` the line to print."""

    def __init__(self, signum: int, message: str | None = None) -> None:
        self.signum = signum
        self.code = EXIT_CODES.get(signum, 128 + int(signum))
        self.message = message or NAMES.get(signum, f"stopped by signal {int(signum)}")
        super().__init__(self.message)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGINT / SIGTERM into :class:`Stopped` for the duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum, frame) -> None:
        nonlocal fired
        if fired:
            return  # already unwinding: let the clean-up finish
        fired = True
        raise Stopped(signum)

    previous_hook = sys.unraisablehook

    def unraisable(info) -> None:
        # A signal that lands inside a __del__ or a weakref callback raises Stopped where Python
        # can only print and drop it; send it again from another thread, so it lands outside.
        nonlocal fired
        if isinstance(info.exc_value, Stopped):
            fired = False
            threading.Timer(0.01, os.kill, (os.getpid(), info.exc_value.signum)).start()
            return
        previous_hook(info)

    previous = {sig: signal.getsignal(sig) for sig in EXIT_CODES}
    for sig in EXIT_CODES:
        if previous[sig] is not signal.SIG_IGN:  # a background job started with SIGINT ignored keeps it so
            signal.signal(sig, handler)
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _checkpoint_where(out: Path) -> str | None:
    """``OUT/checkpoint (epoch 2, step 40)`` for the newest complete checkpoint under ``out``."""
    from bertkit.training.checkpoint import STATE_FILE, find_checkpoint

    if not out.is_dir():
        return None
    found = [c for d in out.rglob("checkpoint") if d.is_dir() and (c := find_checkpoint(d)) is not None]
    found += [c for d in out.rglob("checkpoint.old") if (c := find_checkpoint(d.with_name("checkpoint"))) is not None]
    if not found:
        return None
    newest = max(set(found), key=lambda c: (c / STATE_FILE).stat().st_mtime)
    try:
        state = json.loads((newest / STATE_FILE).read_text(encoding="utf-8"))["state"]
        return f"{newest} (epoch {state['epoch'] + 1}, {state['step_in_epoch']} steps done in it)"
    except (OSError, ValueError, KeyError, TypeError):
        return str(newest)


@contextlib.contextmanager
def resume_hint(out: str | Path) -> Iterator[None]:
    """On Ctrl-C / SIGTERM, say where the last checkpoint under ``out`` is and how to resume."""
    try:
        yield
    except (Stopped, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        base = NAMES.get(signum, "stopped")
        where = _checkpoint_where(Path(out))
        if where is None:
            message = f"{base} before the first checkpoint; run the command again to start over"
        else:
            message = f"{base}; last checkpoint: {where}; continue with the same command plus --resume"
        raise Stopped(signum, message) from None
