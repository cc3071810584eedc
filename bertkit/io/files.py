"""Small file helpers shared by the tasks: content digests and PNG figures, written atomically."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from bertkit.io.atomic import atomic_path

__all__ = ["sha256_file", "save_figure"]


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_figure(fig, path: str | os.PathLike, *, tight: bool = False) -> Path:
    """Save a matplotlib figure as PNG atomically, then close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, **({"bbox_inches": "tight"} if tight else {}))
    plt.close(fig)
    return path
