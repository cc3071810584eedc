"""Ray, imported only when asked for: a clear error without it, a quiet local start with it."""

from __future__ import annotations

import importlib
import logging
import os

from bertkit.errors import UsageError

__all__ = ["RAY_MISSING", "require_ray", "connect", "actor_args"]

RAY_MISSING = '--engine ray needs Ray; install with pip install "bertkit[ray]"'
MAX_RETRIES = 3  # a killed worker is restarted and its batch retried this many times


def require_ray():
    """The ``ray`` module with Ray Data, or a UsageError saying how to install it."""
    try:
        ray = importlib.import_module("ray")
        importlib.import_module("ray.data")
    except ImportError:
        raise UsageError(RAY_MISSING) from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address`` (``auto``, ``ray://host:10001``, host:port) or start a
    local Ray on this machine's cores; True when this call started it (so it should stop it)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    kwargs = dict(include_dashboard=False, logging_level=logging.WARNING, configure_logging=True)
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **kwargs)
    _quiet()
    return True


def _quiet() -> None:
    """No progress bars or per-operator logs from Ray Data on the user's terminal."""
    context = require_ray().data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False


def actor_args(workers: int, cpus: float, gpus: float) -> dict:
    """map_batches arguments for an actor pool of ``workers`` actors, restarted when killed."""
    ray = require_ray()
    if workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    if cpus <= 0 or gpus < 0:
        raise UsageError(f"--cpus-per-worker must be > 0 and --gpus-per-worker >= 0, got {cpus} and {gpus}")
    _quiet()
    return dict(
        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cpus, num_gpus=gpus or None, ray_remote_args_fn=_retries,
    )


def _retries() -> dict:
    """Each actor: restarted up to MAX_RETRIES times when its process dies, its tasks retried."""
    return {"max_restarts": MAX_RETRIES, "max_task_retries": MAX_RETRIES}
