"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash, an error or a signal half-way never leaves a truncated file, and an existing
file is only replaced once the new one is complete. Writing files the user asked for
goes through :func:`check_output` first (before any work), and a disk that fills up or
turns read-only during the write ends in one :class:`OutputError` line, with the old
output intact and no temporary file left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from bertkit.errors import BertkitError

__all__ = [
    "DIR_MODE", "FILE_MODE", "OutputError", "atomic_path", "temp_sibling", "atomic_write_bytes", "atomic_write_text", "check_output",
    "check_not_input", "set_file_mode", "output_error", "exchange_paths", "output_lock", "link_tree", "staged_directory",
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
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield a new empty hidden directory beside ``target`` (:func:`temp_sibling`) for the
    caller to fill and then move onto ``target`` inside the block. When the block fails (an
    error, a signal) the directory is removed, and a full or read-only disk is re-raised as
    :class:`OutputError`; the caller holds ``target``'s :func:`output_lock`."""
    stage = temp_sibling(target)
    try:
        stage.mkdir()  # the mode a new directory gets (umask)
        yield stage
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        failure = output_error(exc, target) if isinstance(exc, OSError) else None
        if failure is not None:
            raise failure from None
        raise


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


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV}


def exchange_paths(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the system or the file system cannot (the caller falls back to two
    renames); raises OSError for any other failure."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(os.fspath(a)), _AT_FDCWD, os.fsencode(os.fspath(b)), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), os.fspath(a))


_HELD: dict[str, list] = {}  # resolved lock path -> [fd, depth]: this process's output locks
_HELD_GUARD = threading.Lock()


def _lock_file(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def output_lock(target: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """Hold an exclusive lock on writing ``target`` (``flock`` on ``.NAME.lock`` beside it).

    A second process asking for the same target gets one :class:`OutputError` line naming
    the process that holds it; the same process may nest the lock (a training run holds it
    while its final save takes it again). The lock goes with the process, even when killed.
    """
    target = Path(target).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise (output_error(exc, target) or exc) from None
    key = str(_lock_file(target.resolve()))
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
    if held is None:
        held = [_acquire(Path(key), target, option), 1]
        with _HELD_GUARD:
            _HELD[key] = held
    try:
        yield target
    finally:
        with _HELD_GUARD:
            held[1] -= 1
            release = held[1] == 0
            if release:
                del _HELD[key]
        if release:
            os.close(held[0])  # closing the descriptor releases the flock


def _acquire(lock: Path, target: Path, option: str) -> int:
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise (output_error(exc, lock) or exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise OutputError(f"{option} {target} is being written by another bertkit process (pid {holder}); "
                          "wait for it to finish or choose another directory") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return fd


def link_tree(source: str | os.PathLike, target: str | os.PathLike, *, skip: tuple[str, ...] = ()) -> None:
    """Copy the tree ``source`` to the new ``target`` as hard links (copies across devices),
    leaving out hidden names and the top-level names in ``skip``. Files written later are
    replaced by rename, never changed in place, so the links never alter ``source``."""
    source, target = Path(source), Path(target)

    def ignore(directory: str, names: list[str]) -> list[str]:
        top = Path(directory) == source
        return [n for n in names if n.startswith(".") or (top and n in skip)]

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, ignore=ignore, copy_function=link, dirs_exist_ok=True)
