"""``--engine ray`` for ``embed``, ``classify predict`` and ``qa ask``: the shared options and
the one call each command makes (the work is in :mod:`bertkit.distributed.job`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bertkit.cli.options import err_console, finite
from bertkit.errors import UsageError, choice_error

__all__ = ["EngineOpt", "AddressOpt", "WorkersOpt", "CpusOpt", "GpusOpt", "ShardRowsOpt", "use_ray", "run_ray"]

ENGINES = ("local", "ray")
EngineOpt = typer.Option("local", "--engine", help="local (this process) or ray (Ray Data: INPUT a .parquet/.jsonl/.txt file, directory or glob; -o a directory of Parquet shards; resumable).")
AddressOpt: Optional[str] = typer.Option(None, "--address", help="--engine ray: the cluster to join (auto, ray://HOST:10001); default: start Ray on this machine's cores.")
WorkersOpt: Optional[int] = typer.Option(None, "--workers", min=1, help="--engine ray: actors, each holding one loaded model (default: CPUs / --cpus-per-worker).")
CpusOpt = typer.Option(1.0, "--cpus-per-worker", callback=finite, help="--engine ray: CPU cores (and torch threads) per actor.")
GpusOpt = typer.Option(0.0, "--gpus-per-worker", callback=finite, help="--engine ray: GPUs per actor (0: CPU only; 0.5: two actors share a GPU).")
ShardRowsOpt = typer.Option(10_000, "--shard-rows", min=1, help="--engine ray: rows per output shard (keep it the same when resuming).")


def use_ray(engine: str) -> bool:
    """True for ``--engine ray`` (after checking that Ray is installed); False for local."""
    if engine not in ENGINES:
        raise choice_error("--engine", engine, ENGINES)
    if engine == "local":
        return False
    from bertkit.distributed.ray_env import require_ray

    require_ray()
    return True


def run_ray(task, input: Optional[str], output: Optional[Path], address, workers, cpus, gpus, shard_rows, **unsupported) -> None:
    """Run ``task`` over INPUT into OUTDIR on Ray and print the summary line.

    ``unsupported``: flags of the command that --engine ray does not take (``{"--tokens": True}``).
    """
    from bertkit.distributed.job import JobOptions, run_job

    given = [flag for flag, value in unsupported.items() if value]
    if given:
        raise UsageError(f"{given[0]} does not work with --engine ray; leave it out")
    if not input or input == "-":
        raise UsageError("--engine ray reads a file, directory or glob (not stdin); give INPUT")
    if output is None:
        raise UsageError("--engine ray needs -o OUTDIR (a directory for the Parquet shards)")
    opts = JobOptions(address=address, workers=workers, cpus_per_worker=cpus, gpus_per_worker=gpus, shard_rows=shard_rows)
    summary = run_job(task, input, output, opts, log=lambda m: err_console.print(m, markup=False))
    err_console.print(summary.line(), markup=False)
