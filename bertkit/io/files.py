"""Small file helpers shared by the tasks: content digests and PNG figures, written atomically."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from bertkit.io.atomic import FILE_MODE, atomic_path

__all__ = ["sha256_file", "save_figure", "set_file_modes", "set_tree_modes", "tree_bytes"]


def set_tree_modes(directory: str | os.PathLike) -> None:
    """Give every file under ``directory`` the permissions a plain ``open()`` would
    (0644 under the usual umask): safetensors, transformers and peft write 0600 files."""
    root = Path(directory)
    set_file_modes(root, (str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink()))


def set_file_modes(root: Path, relative_paths) -> None:
    """``set_tree_modes`` for the listed files under ``root`` only."""
    for rel in relative_paths:
        path = Path(root) / rel
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):  # another user's file in a shared directory keeps its mode
                os.chmod(path, FILE_MODE)


def tree_bytes(directory: str | os.PathLike) -> int:
    """The size of every file under ``directory``, in bytes."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


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
