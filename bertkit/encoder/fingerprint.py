"""Cache keys for anything computed from an encoder: the weights' fingerprint and the cache root.

Shared by the features cache (classification) and the contextual-embedding cache (nn),
so both key their entries the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

__all__ = ["cache_root", "model_fingerprint", "cache_key"]

_FINGERPRINTS: dict[tuple, str] = {}
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
