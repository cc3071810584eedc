"""On-disk cache of per-sentence word states for a frozen encoder.

One safetensors file per distinct sentence, keyed like the features cache: the
encoder's weights and config (:func:`model_fingerprint`), the layers, the sub-word rule,
the max length and window stride, and the sentence's words. The layers are stored
separately (``(W, K, H)``), so every layer combination (mean, sum, concat, weighted)
reads the same entry and ``weighted`` keeps learning its mix on top of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from bertkit.encoder.fingerprint import cache_key, cache_root
from bertkit.io.atomic import atomic_path

__all__ = ["CACHE_VERSION", "WordStateCache", "default_word_cache_dir"]

CACHE_VERSION = 1
_DTYPES = {"float16": np.float16, "float32": np.float32}


def default_word_cache_dir() -> Path:
    """``$BERTKIT_CACHE/contextual`` or ``~/.cache/bertkit/contextual``."""
    return cache_root() / "contextual"


class WordStateCache:
    """``get(words)`` / ``put(words, states)`` for one fixed encoder configuration."""

    def __init__(self, directory: str | os.PathLike | None, config: dict, dtype: str = "float16") -> None:
        if dtype not in _DTYPES:
            raise ValueError(f"unknown cache dtype {dtype!r}; valid options: {', '.join(_DTYPES)}")
        self.directory = Path(directory) if directory is not None else default_word_cache_dir()
        self.config = {"version": CACHE_VERSION, "dtype": dtype, **config}
        self.dtype = _DTYPES[dtype]
        self.hits = 0
        self.misses = 0

    def key(self, words: list[str]) -> str:
        return cache_key({**self.config, "words": list(words)})

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.safetensors"

    def get(self, words: list[str], layers: tuple[int, ...]) -> np.ndarray | None:
        """The cached (W, K, H) float32 states of ``layers``, or None (missing, partial or damaged)."""
        path = self.path(self.key(words))
        try:
            with safe_open(str(path), "np") as f:
                names = set(f.keys())
                if not all(f"layer_{i}" in names for i in layers):
                    raise KeyError("layers missing")
                states = np.stack([f.get_tensor(f"layer_{i}") for i in layers], axis=1)
        except Exception:  # noqa: BLE001 - missing, partial or damaged: recomputed
            self.misses += 1
            return None
        if states.shape[0] != len(words):
            self.misses += 1
            return None
        self.hits += 1
        return states.astype(np.float32)

    def put(self, words: list[str], layers: tuple[int, ...], states: np.ndarray) -> np.ndarray:
        """Add (W, K, H) states of ``layers`` to the entry; returns them as stored (cache dtype), as float32."""
        path = self.path(self.key(words))
        arrays: dict[str, np.ndarray] = {}
        if path.is_file():
            try:
                arrays = {k: v for k, v in load_file(str(path)).items() if v.shape[0] == len(words)}
            except Exception:  # noqa: BLE001 - a damaged entry is replaced
                arrays = {}
        stored = np.ascontiguousarray(states.astype(self.dtype))
        for k, i in enumerate(layers):
            arrays[f"layer_{i}"] = np.ascontiguousarray(stored[:, k])
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file(arrays, str(tmp))
        return stored.astype(np.float32)
