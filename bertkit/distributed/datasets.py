"""Embed, classify and answer a ``ray.data.Dataset``: ``map_batches`` over an actor pool whose
actors each load the predictor once.

>>> import ray, bertkit.distributed as bd
>>> ds = ray.data.read_parquet("corpus/")                       # a "text" column
>>> ds = bd.embed_dataset(ds, pooling="mean", normalize=True, workers=4)
>>> ds.write_parquet("vectors/")                                 # "text" and "vector"

Rows keep their other columns. Ray Data may reorder rows between blocks; carry an ``id``
column to join results back (the ``bertkit ... --engine ray`` commands do).
"""

from __future__ import annotations

from typing import Any

from bertkit.distributed.ray_env import actor_args, require_ray
from bertkit.distributed.tasks import AnswerTask, ClassifyTask, EmbedTask

__all__ = ["PredictBatch", "embed_dataset", "classify_dataset", "answer_dataset", "map_task"]


class PredictBatch:
    """The stateful callable Ray Data runs in each actor: load once, then apply per batch."""

    def __init__(self, task) -> None:
        self.task = task
        self.predictor = task.load()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {**batch, **self.task.apply(self.predictor, batch)}


def map_task(ds, task, *, workers: int = 1, cpus_per_worker: float = 1, gpus_per_worker: float = 0, batch_size: int = 256):
    """``ds.map_batches`` with ``task`` in an actor pool of ``workers`` actors."""
    require_ray()
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    task.cpus = cpus_per_worker
    return ds.map_batches(
        PredictBatch, fn_constructor_kwargs={"task": task}, batch_size=batch_size, batch_format="numpy",
        **actor_args(workers, cpus_per_worker, gpus_per_worker),
    )


def embed_dataset(
    ds, *, text_column: str = "text", output_column: str = "vector", model: str | None = None,
    workers: int = 1, cpus_per_worker: float = 1, gpus_per_worker: float = 0, batch_size: int = 256, **embedder_options,
):
    """Add ``output_column`` (one float32 vector per row) from ``bertkit.Embedder(model, **embedder_options)``
    (pooling, layers, normalize, max_length, long, backend="auto", dtype="auto", device, ...)."""
    task = EmbedTask(text_column, output_column, model, embedder_options)
    return map_task(ds, task, workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, batch_size=batch_size)


def classify_dataset(
    ds, *, text_column: str = "text", pair_column: str | None = None, model: str | None = None,
    backend: str = "auto", dtype: str = "auto", device: str = "auto",
    workers: int = 1, cpus_per_worker: float = 1, gpus_per_worker: float = 0, batch_size: int = 256,
):
    """Add ``label``, ``probability`` (of that label) and ``probabilities`` (every label, in the
    classifier's label order) from ``bertkit.load_classifier(model)``."""
    task = ClassifyTask(text_column, pair_column, model, dict(backend=backend, dtype=dtype, device=device))
    return map_task(ds, task, workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, batch_size=batch_size)


def answer_dataset(
    ds, *, question_column: str = "question", context_column: str = "context", model: str | None = None,
    null_threshold: float | None = None, backend: str = "auto", dtype: str = "auto", device: str = "auto",
    workers: int = 1, cpus_per_worker: float = 1, gpus_per_worker: float = 0, batch_size: int = 64,
):
    """Add ``answer`` (None for "no answer"), ``start``, ``end`` (character offsets into the
    context), ``score``, ``answer_probability`` and ``no_answer`` from ``bertkit.load_reader(model)``."""
    task = AnswerTask(question_column, context_column, model, dict(backend=backend, dtype=dtype, device=device), null_threshold)
    return map_task(ds, task, workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, batch_size=batch_size)
