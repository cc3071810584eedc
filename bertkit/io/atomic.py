"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash, an error or a signal half-way never leaves a truncated file, and an existing
file is only replaced once the new one is complete. Writing files the user asked for
goes through :func:`check_output` first (before any work), and a disk that fills up or
turns read-only during the write ends in one :class:`OutputError` line, with the old
output intact and no temporary file left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from bertkit.errors import BertkitError

__all__ = [
    "DIR_MODE", "FILE_MODE", "OutputError", "atomic_path", "temp_sibling", "atomic_write_bytes", "atomic_write_text", "check_output",
    "check_not_input", "set_file_mode", "output_error",
]


def _read_umask() -> int:
    """The process umask, read once at import (reading it means setting it, which is process-wide)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
FILE_MODE = 0o666 & ~_UMASK  # what open() gives a new file: 0644 under the usual umask 022
DIR_MODE = 0o777 & ~_UMASK  # what mkdir() gives a new directory: 0755

# Failures of the machine or the file system, not of bertkit: reported as one line.
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a parent is not a directory",
    errno.EISDIR: "is a directory",
    errno.EFBIG: "file too large",
    errno.ENOENT: "its directory cannot be created",
}


class OutputError(BertkitError):
    """An output that cannot be written (full disk, read-only, a directory in the way)."""


def output_error(exc: OSError, target: str | os.PathLike | None = None) -> OutputError | None:
    """One-line OutputError for a file-system failure, or None for other OSErrors."""
    reason = ENVIRONMENT_ERRNOS.get(exc.errno or -1)
    if reason is None:
        return None
    where = target if target is not None else (exc.filename or "output")
    return OutputError(f"cannot write {where}: {reason}; nothing was written there (an existing file is unchanged)")


def set_file_mode(path: str | os.PathLike) -> None:
    """Give a file the permissions a plain ``open()`` would (libraries such as safetensors make 0600)."""
    os.chmod(path, FILE_MODE)


def temp_sibling(target: Path, suffix: str = "") -> Path:
    """A fresh hidden name beside ``target`` for a file or directory that is renamed onto it
    once complete: ``.NAME.<random>SUFFIX.tmp``. Only the name: the caller creates it inside
    the ``try`` that removes it, so a signal landing while it is made cannot leave it behind."""
    return target.parent / f".{target.name}.{secrets.token_hex(6)}{suffix}.tmp"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    On any exception (KeyboardInterrupt and the CLI's SIGTERM included) the temporary
    file is removed and ``target`` is left untouched; a full or read-only disk raises
    :class:`OutputError`. ``suffix`` defaults to the target's suffix, so writers that
    look at the extension (numpy, pyarrow) behave the same.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise (output_error(exc, target) or exc) from None
    tmp = temp_sibling(target, suffix if suffix is not None else target.suffix)
    created = False
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # as mkstemp does
        created = True
        yield tmp
        set_file_mode(tmp)  # made 0600 above; give the file the usual permissions
        os.replace(tmp, target)
    except BaseException as exc:
        if created or not isinstance(exc, FileExistsError):  # never another writer's file of that name
            with contextlib.suppress(OSError):
                tmp.unlink()
        failure = output_error(exc, target) if isinstance(exc, OSError) else None
        if failure is not None:
            raise failure from None
        raise


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def check_output(path: str | os.PathLike, option: str, *, directory: bool = False) -> Path:
    """Check before any work that ``path`` can be written: one OutputError line if not.

    A file output must not be an existing directory; a directory output must not be an
    existing file. The nearest existing ancestor must be a writable directory (missing
    parents are created when the output is written).
    """
    path = Path(path)
    if path.is_dir() and not directory:
        raise OutputError(f"{option} {path} is a directory; give a file name")
    if path.exists() and not path.is_dir() and directory:
        raise OutputError(f"{option} {path} is a file; give a directory")
    parent = path if directory and path.is_dir() else path.parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: cannot write to {parent} (permission denied)")
    if _read_only(parent):
        raise OutputError(f"{option} {path}: {parent} is on a read-only file system")
    return path


def _read_only(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def check_not_input(output: str | os.PathLike, option: str, *inputs: str | os.PathLike | None) -> None:
    """Refuse an output that is one of the inputs (same resolved path or same file), before any work."""
    out = Path(output)
    for source in inputs:
        if source is None or str(source) == "-":
            continue
        src = Path(source)
        same = out.resolve() == src.resolve()
        if not same and out.exists() and src.exists():
            with contextlib.suppress(OSError):
                same = os.path.samefile(out, src)
        if same:
            raise OutputError(f"{option} {output} is the input file {source}; writing it would destroy the input. Choose another output path")
