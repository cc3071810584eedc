"""``bertkit embed|classify predict|qa ask ... --engine ray``: a corpus in, Parquet shards out.

The driver checks the input and cuts it into shards (:mod:`bertkit.distributed.sources`);
a Ray Dataset of the unfinished shard numbers goes through ``map_batches`` in an actor
pool: each actor loads the predictor once, and per shard reads its rows, predicts, and
writes ``part-NNNNNN.parquet`` (an ``id`` column, the corpus row position, then the
task's columns) to a temporary name that it renames when complete. So:

* a rerun skips every shard already on disk whose key matches and writes only the rest:
  a shard's key is the sha256 of the task's options and the shard's input rows (stored in
  the Parquet file's metadata), so an edited row is recomputed even when the file's
  length and mtime were kept;
* a run killed at any point and rerun gives exactly the rows of an uninterrupted run;
* a killed worker is restarted by Ray and its shard redone (written once, by rename).

``OUTDIR/_bertkit_job.json`` records the task, its options and the sharding; a rerun with
other options into the same OUTDIR is refused rather than mixed. On a cluster, INPUT
and OUTDIR must be paths every node sees (a shared file system).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bertkit.distributed.ray_env import actor_args, connect, require_ray
from bertkit.distributed.sources import Shard, ShardPlan, plan_shards, read_shard
from bertkit.errors import BertkitError, UsageError

__all__ = ["JobOptions", "JobSummary", "ShardWriter", "run_job", "shard_path", "shard_key", "read_output"]

MANIFEST = "_bertkit_job.json"
MANIFEST_VERSION = 2  # 2: shards keyed by content
KEY_FIELD = b"bertkit.shard_key"


@dataclass
class JobOptions:
    address: str | None = None  # None: start a local Ray on this machine's cores
    workers: int | None = None  # None: as many as the cluster's CPUs (GPUs) allow
    cpus_per_worker: float = 1
    gpus_per_worker: float = 0
    shard_rows: int = 10_000


@dataclass
class JobSummary:
    outdir: Path
    rows: int  # rows in the corpus
    shards: int
    skipped: int  # shards already complete before this run
    written_rows: int  # rows predicted by this run
    seconds: float
    workers: int
    plan_seconds: float = 0.0  # the driver's pass over the input (checks every row)
    busy_seconds: float = 0.0  # summed over workers: reading, predicting and writing shards

    def line(self) -> str:
        rate = self.written_rows / self.seconds if self.seconds > 0 else 0.0
        line = (f"wrote {self.outdir}: {self.rows} rows in {self.shards} shards ({self.skipped} already complete, skipped); "
                f"{self.written_rows} rows in {self.seconds:.1f} s, {rate:.1f} rows/s, {self.workers} workers")
        if self.busy_seconds > 0:
            line += f" ({self.written_rows / self.busy_seconds:.1f} rows/s per busy worker; input checked in {self.plan_seconds:.2f} s)"
        return line


def shard_path(outdir: str | os.PathLike, shard: Shard | int) -> Path:
    index = shard.index if isinstance(shard, Shard) else shard
    return Path(outdir) / f"part-{index:06d}.parquet"


def shard_key(options: dict, rows: dict[str, list[str]]) -> str:
    """sha256 of the task's options and a shard's input rows: what its output depends on."""
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode("utf-8"))
    for column in sorted(rows):
        digest.update(b"\x00" + column.encode("utf-8"))
        for value in rows[column]:
            data = value.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def _complete(outdir: str | os.PathLike, shard: Shard, key: str) -> bool:
    """The shard's file holds its rows, computed from the same input rows and options (``key``)."""
    path = shard_path(outdir, shard)
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowInvalid):
        return False
    return meta.num_rows == shard.rows and (meta.metadata or {}).get(KEY_FIELD) == key.encode("ascii")


def _column(values: Any) -> pa.Array:
    if isinstance(values, np.ndarray) and values.ndim == 2:  # (N, D) -> fixed-size lists
        return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])
    if isinstance(values, np.ndarray) and values.dtype == object:
        return pa.array(values.tolist())
    return pa.array(values)


def write_shard(outdir: str | os.PathLike, shard: Shard, columns: dict[str, Any], key: str = "") -> Path:
    """``id`` + ``columns`` to the shard's file (``key`` in its metadata): a temporary name, then one rename."""
    target = shard_path(outdir, shard)
    table = pa.table({"id": pa.array(np.arange(shard.start, shard.stop, dtype=np.int64)),
                      **{k: _column(v) for k, v in columns.items()}})
    table = table.replace_schema_metadata({KEY_FIELD: key.encode("ascii")})
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


class ShardWriter:
    """The actor: load the predictor once; per shard number, read, predict, write."""

    def __init__(self, task, plan: ShardPlan, outdir: str) -> None:
        self.task, self.plan, self.outdir = task, plan, outdir
        self.options = _task_options(task)
        self.predictor = task.load()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows, seconds = [], []
        for index in batch["shard"].tolist():
            shard = self.plan.shards[int(index)]
            start = time.perf_counter()
            rows_in = read_shard(self.plan, shard)
            key = shard_key(self.options, rows_in)  # of the rows this worker read
            if not _complete(self.outdir, shard, key):  # a retried batch may hold shards already written
                write_shard(self.outdir, shard, self.task.apply(self.predictor, rows_in), key)
            rows.append(shard.rows)
            seconds.append(time.perf_counter() - start)
        return {"shard": batch["shard"], "rows": np.array(rows), "seconds": np.array(seconds), "pid": np.full(len(rows), os.getpid())}


def _task_options(task) -> dict:
    options = asdict(task)
    options.pop("cpus", None)
    return {"task": task.name, **options}


def _check_manifest(outdir: Path, task, plan: ShardPlan) -> None:
    """Record the run in OUTDIR, or check that OUTDIR holds this same run."""
    from bertkit.io.atomic import atomic_write_text

    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"--output {outdir} is a file; --engine ray writes a directory of Parquet shards")
    wanted = {"version": MANIFEST_VERSION, "options": _task_options(task), "columns": plan.columns, "rows_per_shard": plan.rows_per_shard}
    manifest = outdir / MANIFEST
    if manifest.is_file():
        if json.loads(manifest.read_text(encoding="utf-8")) != json.loads(json.dumps(wanted)):
            raise UsageError(f"{outdir} holds shards of another run (different options or sharding); give a new --output directory")
        return
    if outdir.is_dir() and any(outdir.glob("part-*.parquet")):
        raise UsageError(f"{outdir} holds shards without {MANIFEST}; give a new --output directory")
    outdir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(manifest, json.dumps(wanted, indent=1))


def _shard_number(path: Path) -> int:
    try:
        return int(path.name[len("part-"):-len(".parquet")])
    except ValueError:
        return -1


def _default_workers(ray, opts: JobOptions) -> int:
    resources = ray.cluster_resources()
    if opts.gpus_per_worker:
        return max(1, int(resources.get("GPU", 0) // opts.gpus_per_worker))
    return max(1, int(resources.get("CPU", 1) // opts.cpus_per_worker))


def _user_error(exc: BaseException) -> BertkitError | None:
    """The BertkitError a worker raised, if that is what failed (Ray wraps it, maybe twice)."""
    found, seen = None, set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BertkitError):
            found = exc
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    if found is not None and type(found).__module__.startswith("ray"):  # a wrapper that is also a BertkitError
        return BertkitError(str(found).strip().splitlines()[-1])
    return found


def run_job(task, input_spec: str, outdir: str | os.PathLike, opts: JobOptions, log=lambda message: None) -> JobSummary:
    """Predict every row of ``input_spec`` into Parquet shards under ``outdir`` on Ray."""
    ray = require_ray()
    start = time.perf_counter()
    outdir = Path(outdir)
    plan = plan_shards(input_spec, task.columns, opts.shard_rows)
    plan_seconds = time.perf_counter() - start
    _check_manifest(outdir, task, plan)
    for stale in outdir.glob(".part-*.tmp"):  # left by a killed run
        stale.unlink(missing_ok=True)
    for extra in outdir.glob("part-*.parquet"):  # beyond the input's end (it has fewer rows now)
        if _shard_number(extra) >= len(plan.shards):
            extra.unlink(missing_ok=True)
    options = _task_options(task)
    pending = [s for s in plan.shards if not _complete(outdir, s, shard_key(options, read_shard(plan, s)))]
    skipped = len(plan.shards) - len(pending)
    if skipped:
        log(f"{skipped} of {len(plan.shards)} shards already complete in {outdir}; skipping them")
    started = connect(opts.address)
    busy = 0.0
    try:
        workers = min(opts.workers or _default_workers(ray, opts), max(1, len(pending)))
        if pending:
            task.cpus = opts.cpus_per_worker
            ds = ray.data.from_items([{"shard": s.index} for s in pending], override_num_blocks=len(pending))
            ds = ds.map_batches(
                ShardWriter, fn_constructor_kwargs=dict(task=task, plan=plan, outdir=str(outdir)), batch_size=1,
                batch_format="numpy", **actor_args(workers, opts.cpus_per_worker, opts.gpus_per_worker),
            )
            try:
                busy = float(sum(r["seconds"] for r in ds.take_all()))
            except Exception as exc:  # noqa: BLE001 - a user error inside a worker reads as one line
                error = _user_error(exc)
                if error is None:
                    raise
                raise error from None
    finally:
        if started:
            ray.shutdown()
    written = sum(s.rows for s in pending)
    return JobSummary(outdir, plan.rows, len(plan.shards), skipped, written, time.perf_counter() - start, workers, plan_seconds, busy)


def read_output(outdir: str | os.PathLike) -> pa.Table:
    """Every shard of ``outdir`` as one table, sorted by ``id``."""
    files = sorted(Path(outdir).glob("part-*.parquet"))
    if not files:
        raise UsageError(f"{outdir}: no part-*.parquet shards")
    table = pa.concat_tables(pq.read_table(f) for f in files)
    return table.sort_by("id")
