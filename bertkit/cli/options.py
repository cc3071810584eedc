"""Options shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

import contextlib
import math
import re
import sys
from collections.abc import Iterator
from typing import Optional

import typer
from rich.console import Console

__all__ = ["ModelOpt", "DtypeOpt", "BackendOpt", "EngineDtypeOpt", "DeviceOpt", "BatchSizeOpt", "MaxLengthOpt", "JsonOpt", "err_console", "out_console", "finite", "show_progress", "job_progress", "flags_for", "runtime_note"]

ModelOpt = typer.Option(None, "--model", "-m", help="Local Hugging Face model directory (default: the packaged all-MiniLM-L6-v2).")
DtypeOpt = typer.Option("fp32", "--dtype", help="fp32, bf16 (autocast, CPU or GPU) or fp16 (GPU only).")
DeviceOpt = typer.Option("auto", "--device", help="auto (CUDA when present), cpu, cuda or cuda:N.")
BatchSizeOpt = typer.Option(32, "--batch-size", "-b", min=1, help="Texts per batch.")
MaxLengthOpt: Optional[int] = typer.Option(None, "--max-length", help="Max tokens per text (default: the model's).")
BackendOpt = typer.Option("auto", "--backend", help="auto (the fastest that keeps the outputs on this machine), torch, or onnx (ONNX Runtime, exported once and cached).")
EngineDtypeOpt = typer.Option("auto", "--dtype", help="auto; torch: fp32, bf16, fp16 (GPU); onnx: fp32, int8 (only when asked; refused for a model it changes).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object instead of tables.")
ThreadsOpt = typer.Option(None, "--threads", min=1, help="CPU threads for torch (default: torch's choice); seeded runs repeat exactly at the same count.")

# Rich reads "[...]" as markup: everything from the user or the data (texts, labels,
# answers, file names) goes through rich.markup.escape before it reaches these consoles.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


def finite(value: Optional[float]) -> Optional[float]:
    """Callback for every float option: nan and inf are refused (``callback=finite``)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


def parse_train_layers(value: str) -> int | None:
    """``--train-layers``: 'all' (None) or a number of top encoder layers."""
    from bertkit.errors import UsageError

    if value == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--train-layers must be 'all' or a number of top encoder layers, got {value!r}") from None


def show_progress() -> bool:
    """Progress bars only on an interactive terminal."""
    return sys.stderr.isatty()


def job_progress(total: int | None, desc: str, unit: str = "text"):
    """The one progress display of a long command (``bertkit.io.progress.JobProgress``).

    A bar on a terminal; elsewhere a plain line on stderr at most once a minute. Pass it
    as the library call's ``progress=``; ``total`` None lets the loops announce theirs.
    """
    from bertkit.io.progress import JobProgress

    return JobProgress(total, desc=desc, unit=unit, terminal=show_progress(),
                       log=lambda line: err_console.print(line, markup=False, highlight=False))


@contextlib.contextmanager
def flags_for(**flags: str) -> Iterator[None]:
    """Turn a library ParameterError into a UsageError naming the command's flag.

    ``with flags_for(top_k="--top-k", pairs="--pair-column"): ...``: a message about
    ``top_k`` then reads ``--top-k must be >= 1, got 0``.
    """
    from bertkit.errors import ParameterError, UsageError

    try:
        yield
    except ParameterError as exc:
        if exc.param not in flags:
            raise
        message = str(exc)
        for param in getattr(exc, "params", (exc.param,)):
            if param in flags:
                message = re.sub(rf"(?<![\w-]){re.escape(param)}(?!\w)", flags[param], message)
        raise UsageError(message) from None


def runtime_note(runtime) -> str:
    """The runtime for a summary line: ``torch bf16 on cpu (auto: ...)``."""
    return f"runtime {runtime}"
