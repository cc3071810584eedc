"""Data-parallel training under ``torchrun``: process group, batch sharding, rank-0 duties.

``torchrun --nproc_per_node N -m bertkit ...`` starts N copies of the command with
``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set; :func:`setup` joins them into one process group
(``gloo`` on CPU, ``nccl`` on GPU, one GPU per local rank). Every rank builds the same
seeded batch list per epoch; at global step ``s`` rank ``r`` takes batch ``s * N + r``
(the last step wraps around, as DistributedSampler pads), so one step consumes N batches
and DistributedDataParallel averages their gradients. Without ``WORLD_SIZE`` (or with 1)
everything here is a no-op and training is the single-process loop.
"""

from __future__ import annotations

import atexit
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

__all__ = ["Dist", "setup", "current", "is_main", "steps_in", "rank_batch", "broadcast", "barrier", "all_sum"]

T = TypeVar("T")
TIMEOUT = timedelta(minutes=60)  # ranks wait this long for rank 0's evaluation or checkpoint


@dataclass(frozen=True)
class Dist:
    """Where this process stands: rank ``rank`` of ``world`` (``local_rank`` on its node)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None


def current() -> Dist:
    """This process's rank and world size, from torchrun's environment (no group is joined)."""
    return Dist(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))


def is_main() -> bool:
    """True in a single process and in rank 0 of a torchrun job: the one that writes files."""
    return current().main


def setup() -> Dist:
    """Join torchrun's process group once (idempotent); pin this rank's GPU when there is one."""
    info = current()
    if not info.active or not dist.is_available():
        return info
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(info.local_rank % torch.cuda.device_count())
        dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT)
        atexit.register(_teardown)
    return info


def _teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def steps_in(num_batches: int, world: int) -> int:
    """Optimizer steps per epoch when each step consumes ``world`` batches."""
    return -(-num_batches // max(1, world))


def rank_batch(batches: Sequence[T], step: int, info: Dist) -> T:
    """This rank's batch at step ``step`` of an epoch (wraps around at the end)."""
    return batches[(step * info.world + info.rank) % len(batches)]


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def broadcast(value: Any, info: Dist) -> Any:
    """Rank 0's JSON-serialisable ``value`` on every rank (sent as JSON bytes, never pickled)."""
    if not info.active:
        return value
    data = json.dumps(value).encode("utf-8") if info.main else b""
    size = torch.tensor([len(data)], dtype=torch.int64, device=_device())
    dist.broadcast(size, src=0)
    buffer = torch.zeros(int(size.item()), dtype=torch.uint8, device=_device())
    if info.main:
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buffer, src=0)
    return json.loads(bytes(buffer.cpu().tolist()).decode("utf-8"))


def barrier(info: Dist) -> None:
    if info.active:
        dist.barrier()


def all_sum(value: float, info: Dist) -> float:
    """The sum of ``value`` over ranks."""
    if not info.active:
        return value
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=_device())
    dist.all_reduce(tensor)
    return float(tensor.item())
