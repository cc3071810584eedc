"""Beyond one process: batch inference on Ray Data and data-parallel training with torchrun.

* :func:`embed_dataset`, :func:`classify_dataset`, :func:`answer_dataset`: a ``ray.data.Dataset``
  in, the same rows with the predictions added out (an actor pool, one loaded model per actor).
* :func:`run_job`: a corpus of files in, resumable Parquet shards out (``--engine ray``).
* ``--nproc N`` / ``torchrun``: see :mod:`bertkit.training.ddp` and :mod:`bertkit.distributed.torchrun`.

Ray is an optional extra (``pip install "bertkit[ray]"``), imported only when used.
"""

from bertkit.distributed.datasets import PredictBatch, answer_dataset, classify_dataset, embed_dataset, map_task
from bertkit.distributed.job import JobOptions, JobSummary, read_output, run_job
from bertkit.distributed.ray_env import RAY_MISSING, require_ray
from bertkit.distributed.tasks import AnswerTask, ClassifyTask, EmbedTask

__all__ = [
    "embed_dataset",
    "classify_dataset",
    "answer_dataset",
    "map_task",
    "PredictBatch",
    "run_job",
    "read_output",
    "JobOptions",
    "JobSummary",
    "EmbedTask",
    "ClassifyTask",
    "AnswerTask",
    "RAY_MISSING",
    "require_ray",
]
