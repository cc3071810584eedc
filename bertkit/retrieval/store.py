"""An index directory on disk: written whole into a hidden sibling and swapped in, under a lock.

::

    INDEX/
      bertkit.json          IndexConfig (encoder fingerprint, pooling, precision, dim, passages)
      vectors.safetensors   keys (N,) int64, vectors (N, D) [, rescore (N, D) int8, ranges (2, D)]
      passages.parquet      passage_id, doc_id, text, start, end, metadata (a JSON object per row)
      ann.usearch           the approximate graph (usearch's own file format), when built
      manifest.json         sha256 of every file (bertkit.modeldir)

A writer holds ``.INDEX.lock`` beside the directory (:func:`bertkit.io.atomic.output_lock`:
``fcntl.flock``, released by the kernel when the process dies, so a killed build never
leaves it held; here also one thread at a time). The index is saved as every model
directory is (:func:`bertkit.modeldir.writing_model_dir`): written whole into a hidden
sibling, complete (manifest written) before it replaces the old one with one
``renameat2`` exchange, so a reader or a killed writer sees the old index or the new,
never a mix; what a killed writer left is cleared by the next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from bertkit.errors import ModelLoadError, UsageError
from bertkit.io.atomic import output_lock
from bertkit.modeldir import MANIFEST_FILE, finish_writing, read_model_dir, start_writing, writing_model_dir
from bertkit.retrieval.config import IndexConfig
from bertkit.retrieval.precision import Quantizer
from bertkit.retrieval.table import Table

__all__ = ["writer_lock", "write_index", "check_target", "read_index", "generation", "VECTORS_FILE", "PASSAGES_FILE", "ANN_FILE"]

VECTORS_FILE, PASSAGES_FILE, ANN_FILE = "vectors.safetensors", "passages.parquet", "ann.usearch"
_HELD: dict[str, int] = {}  # absolute index path -> the thread holding its writer lock
_HELD_LOCK = threading.Lock()
_OPTION = "index"  # how lock messages name the directory


@contextlib.contextmanager
def writer_lock(path: str | os.PathLike):
    """Hold the index's writer lock (the project's one output lock, nested by the save inside);
    another process or thread holding it: refused, one line."""
    path = Path(path).expanduser().absolute()
    key = str(path)
    with _HELD_LOCK:
        owner = _HELD.get(key)
        if owner is not None and owner != threading.get_ident():
            raise UsageError(f"{path} is being written by another thread; try again when it has finished")
        if owner is None:
            _HELD[key] = threading.get_ident()
    if owner is not None:  # this thread's own nested hold
        yield path
        return
    try:
        with output_lock(path, _OPTION):
            yield path
    finally:
        with _HELD_LOCK:
            _HELD.pop(key, None)


def generation(path: str | os.PathLike) -> str | None:
    """A digest of the index's manifest: changes with every save (None: no index there)."""
    try:
        return hashlib.sha256((Path(path) / MANIFEST_FILE).read_bytes()).hexdigest()
    except OSError:
        return None


def check_target(target: Path) -> None:
    """Refuse to replace something that is not an index directory (a file, a folder of other files)."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or not ((target / MANIFEST_FILE).is_file() or not any(target.iterdir()))):
        raise UsageError(f"{target} exists and is not a bertkit index directory; choose another output")


def write_index(path: Path, config: IndexConfig, table: Table, quantizer: Quantizer, ann=None) -> None:
    """Write the whole index into a hidden sibling, then swap it in (``writing_model_dir``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.numpy import save_file

    check_target(path)  # an existing folder of other files is never replaced
    with writing_model_dir(path, _OPTION) as tmp:
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
