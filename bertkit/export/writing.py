"""Write an export directory atomically: built in a hidden directory beside OUT, renamed at the end.

A failure, Ctrl-C or SIGTERM half-way leaves no OUT (and no temporary directory); an
existing OUT is refused unless it is empty, so no model the user has is ever overwritten.
Two exports to the same OUT: the second is refused in one line (the project's output lock,
:func:`bertkit.io.atomic.output_lock`, which every model-directory writer holds); what a
killed export left beside OUT is removed by the next one.

Not :func:`bertkit.modeldir.writing_model_dir`: that writes bertkit's own format (it swaps
in only a directory with ``bertkit.json`` and ``manifest.json``) and replaces what is at
OUT, while an export is a transformers or sentence-transformers directory that must hold
only that library's files, and never replaces anything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from bertkit.io.atomic import DIR_MODE, FILE_MODE, OutputError, output_lock, staged_directory

__all__ = ["check_new_directory", "new_directory", "edit_json"]


def check_new_directory(out: str | os.PathLike, option: str = "OUT") -> Path:
    """Refuse, before any work, an OUT that exists and is not an empty directory."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        kind = "a file" if not out.is_dir() else "a directory that is not empty"
        raise OutputError(f"{option} {out} is {kind}; an export writes a new directory (choose another path or remove it)")
    return out


@contextlib.contextmanager
def new_directory(out: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory beside ``out`` (``out``'s lock held); on success it becomes ``out``."""
    out = check_new_directory(out)
    with output_lock(out, "OUT"):  # creates the parent; a second writer of OUT: one line
        check_new_directory(out)  # again under the lock: another export may have just finished there
        for stale in out.parent.glob(f".{out.name}.*.tmp"):  # what a killed export left (none runs now: the lock)
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() and not stale.is_symlink() else None
        with staged_directory(out) as tmp:
            yield tmp
            _set_modes(tmp)
            if out.is_dir():
                out.rmdir()  # empty (checked); a directory that filled meanwhile makes this fail, untouched
            os.rename(tmp, out)


def _set_modes(directory: Path) -> None:
    """The usual permissions (transformers and safetensors write some files 0600)."""
    os.chmod(directory, DIR_MODE)
    for path in directory.rglob("*"):
        os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)


def edit_json(path: Path, **changes) -> None:
    """Set keys of a JSON object file written by a library (e.g. the tokenizer's max length)."""
    import json

    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data.update(changes)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


