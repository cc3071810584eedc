"""An index directory on disk: written whole into a hidden sibling and swapped in, under a lock.

::

    INDEX/
      bertkit.json          IndexConfig (encoder fingerprint, pooling, precision, dim, passages)
      vectors.safetensors   keys (N,) int64, vectors (N, D) [, rescore (N, D) int8, ranges (2, D)]
      passages.parquet      passage_id, doc_id, text, start, end, metadata (a JSON object per row)
      ann.usearch           the approximate graph (usearch's own file format), when built
      manifest.json         sha256 of every file (bertkit.modeldir)

A writer holds ``.INDEX.lock`` beside the directory (``fcntl.flock``: released by the
kernel when the process dies, so a killed build never leaves it held). The new directory
is complete (manifest written) before it replaces the old one with one ``renameat2``
exchange, so a reader or a killed writer sees the old index or the new, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np

from bertkit.errors import ModelLoadError, UsageError
from bertkit.io.atomic import exchange_paths, output_error, temp_sibling
from bertkit.modeldir import MANIFEST_FILE, finish_writing, read_model_dir, start_writing
from bertkit.retrieval.config import IndexConfig
from bertkit.retrieval.precision import Quantizer
from bertkit.retrieval.table import Table

__all__ = ["writer_lock", "write_index", "check_target", "read_index", "generation", "VECTORS_FILE", "PASSAGES_FILE", "ANN_FILE"]

VECTORS_FILE, PASSAGES_FILE, ANN_FILE = "vectors.safetensors", "passages.parquet", "ann.usearch"
_HELD: dict[str, int] = {}  # resolved index path -> depth, for this process's own nested holds
_HELD_LOCK = threading.Lock()


def _lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


@contextlib.contextmanager
def writer_lock(path: str | os.PathLike):
    """Hold the index's writer lock; another process (or thread) holding it: refused, one line."""
    path = Path(path).expanduser().absolute()
    key = str(path)
    with _HELD_LOCK:
        if key in _HELD and _HELD[key] == threading.get_ident():
            nested = True
        elif key in _HELD:
            raise UsageError(f"{path} is being written by another thread; try again when it has finished")
        else:
            nested = False
    if nested:
        yield path
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise (output_error(exc, path) or exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{path} is being written by another process (lock {_lock_path(path).name} held); try again when it has finished") from None
        with _HELD_LOCK:
            _HELD[key] = threading.get_ident()
        try:
            yield path
        finally:
            with _HELD_LOCK:
                _HELD.pop(key, None)
    finally:
        os.close(fd)


def generation(path: str | os.PathLike) -> str | None:
    """A digest of the index's manifest: changes with every save (None: no index there)."""
    try:
        return hashlib.sha256((Path(path) / MANIFEST_FILE).read_bytes()).hexdigest()
    except OSError:
        return None


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the complete directory ``tmp`` at ``target``; the old one is removed after."""
    if not target.exists():
        os.rename(tmp, target)
        return
    check_target(target)
    if exchange_paths(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old index
        return
    old = temp_sibling(target, ".old")  # no atomic exchange: two renames, the old kept until the new is in
    os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)


def check_target(target: Path) -> None:
    """Refuse to replace something that is not an index directory (a file, a folder of other files)."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or not ((target / MANIFEST_FILE).is_file() or not any(target.iterdir()))):
        raise UsageError(f"{target} exists and is not a bertkit index directory; choose another output")


def _clean_stale(target: Path) -> None:
    """Remove the temporary siblings a killed writer left (only ever called under the lock)."""
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


def write_index(path: Path, config: IndexConfig, table: Table, quantizer: Quantizer, ann=None) -> None:
    """Write the whole index into a hidden sibling, then swap it in (caller holds the lock)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.numpy import save_file

    _clean_stale(path)
    tmp = temp_sibling(path)
    try:
        start_writing(tmp)
        tensors = {"keys": table.keys.astype(np.int64), "vectors": np.ascontiguousarray(table.vectors)}
        if table.rescore is not None:
            tensors["rescore"] = np.ascontiguousarray(table.rescore)
        if quantizer.ranges is not None:
            tensors["ranges"] = quantizer.ranges
        save_file(tensors, str(tmp / VECTORS_FILE))
        columns = {
            "passage_id": table.passage_ids, "doc_id": table.doc_ids, "text": table.texts,
            "start": table.starts.astype(np.int64), "end": table.ends.astype(np.int64),
            "metadata": [json.dumps(m, ensure_ascii=False, sort_keys=True) for m in table.metadata],
        }
        schema = pa.schema([("passage_id", pa.string()), ("doc_id", pa.string()), ("text", pa.string()),
                            ("start", pa.int64()), ("end", pa.int64()), ("metadata", pa.string())])
        pq.write_table(pa.table(columns, schema=schema), tmp / PASSAGES_FILE)
        if ann is not None:
            ann.save(tmp / ANN_FILE)
        finish_writing(tmp, config)
        _swap_in(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        failure = output_error(exc, path) if isinstance(exc, OSError) else None
        if failure is not None:
            raise failure from None
        raise


def read_index(path: str | os.PathLike) -> tuple[IndexConfig, Table, Quantizer, Path | None]:
    """Verify (manifest, typed config) and read an index: (config, table, quantizer, ann file or None)."""
    import pyarrow.parquet as pq
    from safetensors.numpy import load_file

    path = Path(path).expanduser()
    config = read_model_dir(path, IndexConfig, hint="build one with: bertkit index build CORPUS -o DIR")
    try:
        tensors = load_file(str(path / VECTORS_FILE))
        rows = pq.read_table(path / PASSAGES_FILE).to_pydict()
        metadata = [json.loads(m) for m in rows["metadata"]]
    except Exception as exc:  # noqa: BLE001 - a damaged file of a verified directory (unlikely): one line
        raise ModelLoadError(f"{path}: unreadable index files ({type(exc).__name__}: {str(exc)[:100]})") from None
    table = Table(tensors["keys"], tensors["vectors"], tensors.get("rescore"), rows["passage_id"], rows["doc_id"],
                  rows["text"], np.asarray(rows["start"], np.int64), np.asarray(rows["end"], np.int64), metadata)
    _check_shapes(path, config, table)
    quantizer = Quantizer(config.precision, tensors.get("ranges"))
    ann = path / ANN_FILE if config.has_ann and (path / ANN_FILE).is_file() else None
    return config, table, quantizer, ann


def _check_shapes(path: Path, config: IndexConfig, table: Table) -> None:
    width = config.dim // 8 if config.precision == "binary" else config.dim
    dtype = {"fp32": np.float32, "fp16": np.float16, "int8": np.int8, "binary": np.uint8}[config.precision]
    if table.vectors.ndim != 2 or table.vectors.shape[1] != width or table.vectors.dtype != dtype:
        raise ModelLoadError(
            f"{path}: {VECTORS_FILE} holds {table.vectors.dtype} vectors of shape {table.vectors.shape}, "
            f"but bertkit.json says {config.precision} with dim {config.dim}"
        )
    if not len(table.keys) == len(table.texts) == config.passages == len(table.vectors):
        raise ModelLoadError(f"{path}: {VECTORS_FILE} and {PASSAGES_FILE} disagree on the number of passages")
