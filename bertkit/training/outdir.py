"""The output directory of a training run: locked for the run, in the process that writes it.

Under torchrun only rank 0 writes (checkpoints, the model directory), so only rank 0 takes
the lock; the other ranks of the same job would otherwise refuse themselves.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from bertkit.io.atomic import output_lock
from bertkit.modeldir import recover_interrupted_save
from bertkit.training import ddp

__all__ = ["training_lock"]


@contextlib.contextmanager
def training_lock(out: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """Hold ``out``'s write lock for a training run (a second run into it is refused, naming its
    pid), after putting back what a save killed between its two renames left beside it."""
    if not ddp.current().main:
        yield Path(out)
        return
    with output_lock(out, option) as path:
        recover_interrupted_save(path)
        yield path
