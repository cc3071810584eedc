"""Keep transformers quiet while bertkit loads a model, without changing anything for good.

transformers prints a progress bar ("Loading weights") and a load report (missing and
unexpected keys, which bertkit checks and reports itself in one line) on every
``from_pretrained``. bertkit never sets a logging level, an environment variable or a
warning filter for the process: :func:`quiet_loading` hides that output for the duration
of one load only (a filter on transformers' logger and its handlers, the progress bar switched off) and
puts everything back as it was, under a lock so overlapping loads restore the same state.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator

__all__ = ["quiet_loading"]

_LOCK = threading.RLock()


class _BelowError(logging.Filter):
    """Drops transformers' records below ERROR (its load report is a warning)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No progress bar, load report or warnings from transformers inside the block; the
    process's logging, progress-bar and warning settings are the same after it as before."""
    from transformers.utils import logging as hf_logging

    logger = logging.getLogger("transformers")
    quiet = _BelowError()
    with _LOCK:
        bars = hf_logging.is_progress_bar_enabled()
        targets = [logger, *logger.handlers]  # records of child loggers reach the handlers only
        for target in targets:
            target.addFilter(quiet)
        if bars:
            hf_logging.disable_progress_bar()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            if bars:
                hf_logging.enable_progress_bar()
            for target in targets:
                target.removeFilter(quiet)
