"""The warm start: a cached ONNX export run with ``tokenizers`` + ``onnxruntime`` + numpy only.

The full path (the Embedder, the Classifier) imports torch and transformers to load a
model, resolve its runtime and find its ONNX export. When that export is what runs, the
full path also records a *warm entry* under ``$BERTKIT_CACHE/warm/<key>.json``: which
export it ran, the exact tokenizer it fed (the Encoder's truncating Rust tokenizer,
serialised), the input names, max length and padding id, the task's few settings
(normalisation, labels) and the identity of every file of the model directories the
result depends on. The key hashes the request: task, model directory, options, the
``--backend``/``--dtype``/``--device`` asked (and ``BERTKIT_BACKEND``/``BERTKIT_DTYPE``)
and the versions of bertkit, transformers, tokenizers and onnxruntime.

A later run of the same request takes the warm path only when all of this holds, and
otherwise runs the full path (which is always correct, only slower):

- the entry is complete (its own sha256 matches) and of this format;
- the runtime resolves, without torch, to the entry's ONNX runtime (:func:`warm_runtime`:
  no GPU that ``auto`` could pick; on a native-bf16 CPU the probe's result is cached);
- every file of the model directories is the one recorded: the same set of files, each
  with the same size, mtime, ctime and inode (any write, ``touch`` or ``os.utime`` changes
  the ctime), and files up to ``REHASH_BYTES`` (configs, tokenizer, vocabulary) are hashed
  again and compared with their recorded sha256;
- the export verifies against its manifest (:func:`~bertkit.engine.export_info.read_export_info`,
  every file hashed, as the full path does) and has the recorded content hash; an int8
  export still passes its gate.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bertkit.engine.export_info import ExportInfo, cache_root as onnx_cache_root, read_export_info
from bertkit.engine.runtime import AUTO, Runtime, _version, model_key, resolve_runtime

__all__ = ["WARM_VERSION", "REHASH_BYTES", "FileRecord", "WarmEntry", "WarmStart", "warm_dir", "warm_key", "file_records",
           "save_entry", "is_recorded", "warm_runtime", "find_warm_start"]

WARM_VERSION = 1
REHASH_BYTES = 4 << 20  # files up to 4 MiB are hashed again on every warm start; larger ones (weights) are known by identity
_FORMAT = "bertkit-warm"
_GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")  # CUDA, ROCm, WSL GPUs


class _NeedsProbe(Exception):
    """The runtime would need the bf16 probe (not cached): only the full path can run it."""


@dataclass(frozen=True)
class FileRecord:
    """One file a warm result depends on, as it was when the full path ran."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    sha256: str

    def unchanged(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        if (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) != (self.size, self.mtime_ns, self.ctime_ns, self.inode):
            return False
        return self.size > REHASH_BYTES or _sha256(Path(self.path)) == self.sha256


@dataclass
class WarmEntry:
    """What the full path ran, enough to run it again without torch."""

    task: str  # "embeddings" | "classifier"
    runtime: list[str]  # [backend, dtype] the full path resolved
    probe_path: str  # the directory the runtime's probe cache is keyed by
    export: str  # the export's directory name under $BERTKIT_CACHE/onnx
    content_hash: str
    tokenizer: str  # the Encoder's truncating Rust tokenizer, serialised
    input_keys: list[str]
    max_length: int
    pad_token_id: int
    cut_prefixes: bool  # the Encoder cuts long texts by characters first (right truncation)
    details: dict = field(default_factory=dict)  # the task's own settings (normalize, labels, ...)
    sources: list[str] = field(default_factory=list)  # the model directories, resolved
    files: list[FileRecord] = field(default_factory=list)  # every file below them


@dataclass
class WarmStart:
    """A verified warm entry and the runtime it runs on."""

    runtime: Runtime
    entry: WarmEntry
    export_dir: Path
    info: ExportInfo

    @property
    def model_path(self) -> Path:
        return self.export_dir / self.info.model_file


def warm_dir() -> Path:
    """``$BERTKIT_CACHE/warm`` (default ``~/.cache/bertkit/warm``)."""
    return onnx_cache_root().parent / "warm"


def warm_key(task: str, model: Path, options: dict, backend: str, dtype: str, device: str) -> str:
    """The entry key of a request (options: the task's, JSON-serialisable)."""
    parts = {
        "version": WARM_VERSION, "task": task, "model": str(Path(model).expanduser().resolve()), "options": options,
        "asked": [backend, dtype, device, os.environ.get("BERTKIT_BACKEND", ""), os.environ.get("BERTKIT_DTYPE", "")],
        "versions": [_version("bertkit"), _version("transformers"), _version("tokenizers"), _version("onnxruntime", "onnxruntime-gpu")],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def _sha256(path: Path) -> str:
    from bertkit.io.files import sha256_file

    return sha256_file(path)


def _listing(directories: list[str]) -> list[str]:
    """Every file below ``directories`` (hidden folders such as ``.train/`` left out), sorted."""
    found = []
    for root in directories:
        base = Path(root)
        for path in base.rglob("*"):
            if path.is_file() and not any(part.startswith(".") for part in path.parent.relative_to(base).parts):
                found.append(str(path))
    return sorted(found)


def file_records(directories: list[Path]) -> tuple[list[str], list[FileRecord]]:
    """(the directories resolved, a record of every file below them: identity and sha256)."""
    roots = sorted({str(Path(d).resolve()) for d in directories})
    records = []
    for path in _listing(roots):
        st = os.stat(path)
        records.append(FileRecord(path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, _sha256(Path(path))))
    return roots, records


def _checksum(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save_entry(key: str, entry: WarmEntry) -> bool:
    """Write the entry atomically; False (and nothing written) where the cache is not writable."""
    from bertkit.io.atomic import OutputError, atomic_write_text

    body = asdict(entry)
    try:
        atomic_write_text(warm_dir() / f"{key}.json", json.dumps({"format": _FORMAT, "version": WARM_VERSION, "entry": body,
                                                                  "sha256": _checksum(body)}) + "\n")
    except (OSError, OutputError):  # a read-only cache only costs the full path next time
        return False
    return True


def _load_entry(key: str, task: str) -> WarmEntry | None:
    try:
        data = json.loads((warm_dir() / f"{key}.json").read_text(encoding="utf-8"))
        if data.get("format") != _FORMAT or data.get("version") != WARM_VERSION or _checksum(data["entry"]) != data["sha256"]:
            return None
        body = dict(data["entry"])
        body["files"] = [FileRecord(**f) for f in body["files"]]
        entry = WarmEntry(**body)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return entry if entry.task == task else None


def _files_unchanged(entry: WarmEntry) -> bool:
    """The same files below the entry's directories as recorded, each unchanged."""
    return _listing(entry.sources) == [r.path for r in entry.files] and all(r.unchanged() for r in entry.files)


def is_recorded(key: str, task: str, export: str, content_hash: str) -> bool:
    """True when the entry of ``key`` already names this export and its files are unchanged:
    the full path then has nothing to hash or write again (weights are known by identity)."""
    entry = _load_entry(key, task)
    return entry is not None and entry.export == export and entry.content_hash == content_hash and _files_unchanged(entry)


def _no_gpu() -> bool:
    """True when torch cannot see a GPU here (a CPU-only torch build, or no GPU device nodes)."""
    if "+cpu" in _version("torch"):
        return True
    return not any(os.path.exists(node) for node in _GPU_NODES)


def warm_runtime(backend: str, dtype: str, device: str, probe_path: Path) -> Runtime | None:
    """The runtime ``auto`` resolves to, found without torch; None when that needs torch
    (a GPU may be present, the bf16 probe is not cached, a device other than the CPU)."""
    if device not in (AUTO, "cpu"):
        return None
    named_backend = os.environ.get("BERTKIT_BACKEND", AUTO) if backend == AUTO else backend
    named_dtype = os.environ.get("BERTKIT_DTYPE", AUTO) if dtype == AUTO else dtype
    cpu_only = device == "cpu" or _no_gpu()
    if not cpu_only and named_backend != "onnx" and named_dtype != "int8":
        return None  # auto would ask torch about CUDA

    def probe(_device: str):
        raise _NeedsProbe

    try:
        return resolve_runtime(backend, dtype, AUTO, model=model_key(probe_path), probe=probe, cuda=False if cpu_only else None)
    except _NeedsProbe:
        return None
    except Exception:  # noqa: BLE001 - a bad name or setting: the full path reports it in its own line
        return None


def _int8_gate_passed(info: ExportInfo, task: str) -> bool:
    if info.dtype != "int8":
        return True
    if task == "embeddings":
        from bertkit.engine.quality import INT8_MIN_MEAN_COSINE

        return info.calibration_mean_cosine is not None and info.calibration_mean_cosine >= INT8_MIN_MEAN_COSINE
    return info.refused is None and (info.calibration_agreement is not None or info.calibration_f1 is not None)


def find_warm_start(task: str, model: Path, options: dict, backend: str, dtype: str, device: str) -> WarmStart | None:
    """The verified warm entry of this request and its runtime, or None (then run the full path)."""
    entry = _load_entry(warm_key(task, model, options, backend, dtype, device), task)
    if entry is None:
        return None
    runtime = warm_runtime(backend, dtype, device, Path(entry.probe_path))
    if runtime is None or [runtime.backend, runtime.dtype] != entry.runtime:
        return None
    if not _files_unchanged(entry):
        return None  # a file added, removed or changed
    export_dir = onnx_cache_root() / entry.export
    try:
        info = read_export_info(export_dir)  # every file against the manifest
    except Exception:  # noqa: BLE001 - absent or damaged: the full path exports it again, with its warning
        return None
    if info.content_hash != entry.content_hash or info.dtype != runtime.dtype or not _int8_gate_passed(info, task):
        return None
    return WarmStart(runtime, entry, export_dir, info)
