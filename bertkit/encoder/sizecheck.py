"""Check a model's config against its weights, and against the memory, before allocating.

A ``config.json`` can claim far more than its weights hold (100 layers of hidden 8192
beside a tiny safetensors file): building that model would exhaust memory before any
check could run. So, before transformers allocates anything:

1. the model the config describes is built on the ``meta`` device (shapes only, no
   memory) and its parameters are counted;
2. the safetensors headers are read (names, shapes and dtypes only, no tensor data):
   the 8-byte length and the JSON header the format begins with, read directly, since
   ``safe_open`` maps the whole file into memory, which a tight address-space limit refuses;
3. the count must not exceed what the files hold (the pooler may be absent), every
   tensor present in both must have the config's shape, and the model in fp32 must fit in
   the memory available (``MemAvailable``, the cgroup's limit, ``RLIMIT_AS``), with the
   files themselves (transformers maps them while it copies the weights).

Each failure is one :class:`~bertkit.errors.ModelLoadError` line.
"""

from __future__ import annotations

import json
import resource
import struct
from pathlib import Path

from bertkit.errors import ModelLoadError

__all__ = ["read_header", "header_shapes", "expected_shapes", "available_memory", "check_weights_fit"]

_SLACK = 1.01  # the config may describe 1% more than the files hold (tied or absent extras)
_MAX_HEADER = 100 * 2**20  # the format's own limit on the JSON header


def read_header(file: Path) -> dict[str, dict]:
    """A safetensors file's header: tensor name -> {"dtype", "shape", "data_offsets"} (no data read).

    The format: 8 bytes of little-endian header length, then that many bytes of JSON.
    Offsets must lie inside the file, so a header cannot claim data the file lacks.
    """
    try:
        size = file.stat().st_size
        with open(file, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if not 2 <= length <= min(_MAX_HEADER, size - 8):
                raise ValueError(f"header length {length} out of range")
            header = json.loads(handle.read(length).decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        for name, info in tensors.items():
            start, end = info["data_offsets"]
            if not (isinstance(info["shape"], list) and 0 <= start <= end <= size - 8 - length):
                raise ValueError(f"tensor {name} lies outside the file")
        return tensors
    except (OSError, ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{file}: the weights could not be loaded (not a readable safetensors file: {str(exc).splitlines()[0][:200]})") from None


def header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape over every ``*.safetensors`` file of ``path`` (headers only)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for file in sorted(Path(path).glob("*.safetensors")):
        for name, info in read_header(file).items():
            shapes[name] = tuple(int(d) for d in info["shape"])
    return shapes


def expected_shapes(config, auto=None) -> tuple[dict[str, tuple[int, ...]], str]:
    """Parameter name -> shape of the model ``config`` describes (built on ``meta``: no memory),
    and the model's base-model prefix (``bert``, ``roberta``, ...)."""
    import torch

    if auto is None:
        from transformers import AutoModel as auto
    with torch.device("meta"):
        model = auto.from_config(config)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    return shapes, str(getattr(model, "base_model_prefix", "") or "")


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def available_memory() -> int | None:
    """Bytes this process can still allocate: the least of ``MemAvailable``, the cgroup's
    room and the address-space limit's room (None when none is known)."""
    limits = []
    meminfo = _read_kb("/proc/meminfo", "MemAvailable:")
    if meminfo is not None:
        limits.append(meminfo)
    try:
        cap = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if cap.isdigit() and used.isdigit():
            limits.append(max(0, int(cap) - int(used)))
    except OSError:
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        size = _read_kb("/proc/self/status", "VmSize:") or 0
        limits.append(max(0, soft - size))
    return min(limits) if limits else None


def _read_kb(file: str, key: str) -> int | None:
    try:
        with open(file, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_weights_fit(path: Path, config, auto=None) -> int:
    """Refuse (one line) a config its weights cannot back, or a model memory cannot hold;
    returns the parameter count. ``auto``: the transformers Auto class that will load it."""
    header = header_shapes(path)
    expected, prefix = expected_shapes(config, auto)
    strip = f"{prefix}." if prefix else ""
    stored = {(k[len(strip):] if strip and k.startswith(strip) else k): v for k, v in header.items()}
    for name, shape in expected.items():
        key = name[len(strip):] if strip and name.startswith(strip) else name
        if key in stored and stored[key] != shape:
            raise ModelLoadError(
                f"{path}: weight {key} has shape {tuple(stored[key])} but config.json implies {shape}; the config does not match the weights"
            )
    needed = sum(_numel(s) for n, s in expected.items() if "pooler" not in n)
    held = sum(_numel(s) for s in header.values())
    if needed > held * _SLACK:
        raise ModelLoadError(
            f"{path}: config.json describes {needed:,} parameters ({_shape_summary(config)}) but the safetensors files hold "
            f"only {held:,}; the config does not match the weights"
        )
    total = sum(_numel(s) for s in expected.values())
    files = sum(f.stat().st_size for f in Path(path).glob("*.safetensors"))  # mapped while the weights are copied
    room = available_memory()
    if room is not None and total * 4 + files > room:
        raise ModelLoadError(
            f"{path}: the model needs about {total * 4 / 2**30:.1f} GiB of memory ({total:,} parameters in fp32) but only "
            f"{room / 2**30:.1f} GiB is available; free memory or use a smaller model"
        )
    return total


def _shape_summary(config) -> str:
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layers", None)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "dim", None)
    return f"{layers} layers, hidden {hidden}"
