"""One model-directory format for every trained artefact, and its one reader/verifier.

::

    <dir>/
      bertkit.json     the typed config: {"task": ..., "schema_version": N, <fields>}
      manifest.json    {"format": "bertkit-manifest", "version": 1,
                        "files": {<relative path>: <sha256>, ...}}: every file below
                        <dir> (the config and sub-directories included), except the
                        manifest itself and hidden names (work directories, temp files)
      ...              the task's own files (weights, encoder/, members/<name>/, ...)

Saving: every writer goes through :func:`writing_model_dir`, which holds the output's
lock (a second writer of the same directory is refused, naming its pid), builds the new
directory in a hidden sibling (``.NAME.<random>.tmp``) and swaps it in whole at the end
(``renameat2(RENAME_EXCHANGE)`` on Linux, two renames elsewhere), so a kill at any moment
leaves the old model or the new one, never a mix. Inside it, :func:`start_writing` marks
the work directory incomplete, the task writes its files, and :func:`finish_writing`
writes the config and then the manifest, both atomically. So a directory with a manifest
is complete, and any file changed after saving, the config included (swapped labels,
say), is refused on load. :func:`rewrite_model_dir` changes a few files of a complete
directory the same way (the others hard-linked into the new one).

Loading: :func:`read_model_dir` verifies the manifest (every listed file present and
unchanged, no unlisted file a loader would read) and parses the config with its types
checked. Directories written before this format are read through
:func:`bertkit.modeldir.legacy.read_legacy`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from bertkit.errors import ModelLoadError
from bertkit.io.atomic import atomic_write_text, exchange_paths, link_tree, output_lock, staged_directory
from bertkit.io.files import set_file_modes, sha256_file
from bertkit.modeldir.legacy import LEGACY_FILES, read_legacy
from bertkit.modeldir.schema import check_relative, config_from_dict, config_to_json

__all__ = [
    "CONFIG_FILE", "MANIFEST_FILE", "MANIFEST_FORMAT", "start_writing", "finish_writing", "read_model_dir",
    "verify_manifest", "member_dir", "check_relative", "convert_model_dir", "writing_model_dir", "rewrite_model_dir", "recover_interrupted_save",
]

CONFIG_FILE = "bertkit.json"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "bertkit-manifest"
MANIFEST_VERSION = 1
# Files a loader (transformers, safetensors, peft, ONNX Runtime) may read: one that the
# manifest does not list is refused rather than silently used.
_LOADABLE_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".onnx", ".py", ".bin", ".pt", ".pth", ".pkl", ".h5", ".msgpack")


def _save_step(step: str) -> None:
    """Called at each step of a swap (``complete``, ``exchanged``, ``aside``, ``renamed``,
    ``removed``) and of :func:`finish_writing` (``files``): a no-op that tests replace
    to kill a process at that step."""


@contextlib.contextmanager
def writing_model_dir(target: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """The one way to write a model directory: yield a new hidden work directory beside
    ``target``; once the block has written it (ending with :func:`finish_writing`) swap
    it in for ``target`` whole. On an error (or a signal) the work directory is removed
    and ``target`` is untouched; a kill leaves the old directory or the new one."""
    target = Path(target).expanduser()
    if target.exists() and not target.is_dir():
        raise ModelLoadError(f"{target} is a file; a model directory is needed")
    with output_lock(target, option):
        recover_interrupted_save(target)
        with staged_directory(target) as stage:
            yield stage
            if not (stage / MANIFEST_FILE).is_file():
                raise RuntimeError(f"writing {target}: the work directory was never finished (finish_writing)")
            _swap_in(stage, target)


@contextlib.contextmanager
def rewrite_model_dir(directory: str | os.PathLike, option: str = "--model") -> Iterator[Path]:
    """Change a complete model directory as a whole: yield a work copy (files hard-linked,
    so cheap; replace files there, never edit them in place) that is swapped in at the end."""
    directory = Path(directory).expanduser()
    with writing_model_dir(directory, option) as stage:
        link_tree(directory, stage, skip=(MANIFEST_FILE,))
        yield stage


def _swap_in(stage: Path, target: Path) -> None:
    """Put the complete ``stage`` at ``target``; the old directory (if any) is removed."""
    _save_step("complete")
    if not target.exists():
        os.rename(stage, target)
        _save_step("renamed")
    elif exchange_paths(stage, target):  # one atomic step: target is new, stage holds the old
        _save_step("exchanged")
        shutil.rmtree(stage, ignore_errors=True)
    else:  # two renames: between them only the hidden .old sibling holds the old model
        aside = target.parent / f".{target.name}.{stage.name.split('.')[-2]}.old"
        os.rename(target, aside)
        _save_step("aside")
        os.rename(stage, target)
        _save_step("renamed")
        shutil.rmtree(aside, ignore_errors=True)
    _save_step("removed")


def recover_interrupted_save(target: Path) -> None:
    """Call under ``target``'s lock: clear what a killed writer of ``target`` left (its work
    directories, a swapped-out old copy); with ``target`` missing (killed between the two renames), the
    new directory if it was complete, else the old one, goes back to ``target``."""
    leftovers = [p for pattern in (f".{target.name}.*.tmp", f".{target.name}.*.old")
                 for p in sorted(target.parent.glob(pattern)) if p.is_dir() and not p.is_symlink()]
    if not target.exists():
        complete = [p for p in leftovers if p.suffix == ".tmp" and (p / MANIFEST_FILE).is_file()]
        old = [p for p in leftovers if p.suffix == ".old"]
        for candidate in complete + old:
            os.rename(candidate, target)
            leftovers.remove(candidate)
            break
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)


def interrupted_save(directory: Path) -> Path | None:
    """The old copy a save killed between its two renames left beside ``directory``, if any."""
    found = sorted(directory.parent.glob(f".{directory.name}.*.old"))
    return found[0] if found else None


def start_writing(directory: str | os.PathLike) -> Path:
    """Create ``directory`` and mark it incomplete until :func:`finish_writing`."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ModelLoadError(f"{directory} is a file; a model directory is needed")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST_FILE).unlink(missing_ok=True)
    return directory


def finish_writing(directory: str | os.PathLike, config) -> Path:
    """Write ``config`` as bertkit.json, then the manifest over every file (atomically, last)."""
    directory = Path(directory)
    (directory / MANIFEST_FILE).unlink(missing_ok=True)
    _save_step("files")
    atomic_write_text(directory / CONFIG_FILE, config_to_json(config))
    files = {rel: sha256_file(directory / rel) for rel in _listed_files(directory)}
    set_file_modes(directory, files)  # safetensors / transformers / peft write their files 0600
    manifest = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "files": files}
    atomic_write_text(directory / MANIFEST_FILE, json.dumps(manifest, indent=1) + "\n")
    return directory


def _listed_files(directory: Path) -> Iterator[str]:
    """Relative POSIX paths of every non-hidden file below ``directory`` but the manifest."""
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if rel.as_posix() != MANIFEST_FILE:
            yield rel.as_posix()


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({str(exc)[:120]})") from None
    except OSError as exc:
        raise ModelLoadError(f"{path}: unreadable ({exc.strerror})") from None


def verify_manifest(directory: Path) -> dict[str, str]:
    """Check every file against manifest.json; return the manifest's files map."""
    manifest_path = directory / MANIFEST_FILE
    manifest = _read_json(manifest_path)
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("files"), dict):
        raise ModelLoadError(f"{manifest_path}: not a {MANIFEST_FORMAT} manifest")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > MANIFEST_VERSION:
        raise ModelLoadError(f"{manifest_path}: manifest version {manifest.get('version')!r} is not one this bertkit reads; upgrade bertkit")
    files: dict[str, str] = manifest["files"]
    if CONFIG_FILE not in files:
        raise ModelLoadError(f"{manifest_path} does not cover {CONFIG_FILE}")
    root = directory.resolve()
    for rel, digest in files.items():
        check_relative(rel, str(manifest_path), "file")
        path = directory / rel
        if not path.is_file():
            raise ModelLoadError(f"{directory}: incomplete model directory, {rel} is missing")
        if not path.resolve().is_relative_to(root):
            raise ModelLoadError(f"{directory}: {rel} points outside the model directory")
        if not isinstance(digest, str) or sha256_file(path) != digest:
            raise ModelLoadError(f"{directory}: {rel} was altered after saving (its sha256 does not match {MANIFEST_FILE})")
    for rel in _listed_files(directory):
        if rel not in files and rel.endswith(_LOADABLE_SUFFIXES):
            raise ModelLoadError(f"{directory}: {rel} is not listed in {MANIFEST_FILE} (added after saving?); remove it")
    return files


def read_model_dir(directory: str | os.PathLike, cls, *, hint: str = ""):
    """Verify ``directory`` and return its config as ``cls`` (a config class with ``TASK``).

    ``hint`` (e.g. "train one with: bertkit classify train") ends the messages for a
    directory that is missing or holds no model.
    """
    directory = Path(directory).expanduser()
    tail = f"; {hint}" if hint else ""
    if not directory.is_dir():
        what = "is a file, not" if directory.exists() else "does not exist; expected"
        old = None if directory.exists() else interrupted_save(directory)
        if old is not None:
            tail = f"; a save into it was interrupted and the previous model is at {old} (rename it back, or rerun the command)"
        raise ModelLoadError(f"{directory} {what} a bertkit {cls.TASK} model directory{tail}")
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        legacy = read_legacy(directory, cls.TASK)
        if legacy is not None:
            return config_from_dict(cls, legacy, str(directory))
    stale = [name for name in LEGACY_FILES if (directory / name).is_file()]
    if config_path.is_file() and stale:
        raise ModelLoadError(
            f"{directory} holds both {CONFIG_FILE} and the older {stale[0]} (files of two models copied together?); "
            "keep one model's files only (a directory of the older layout converts with: bertkit convert DIR)"
        )
    if not (directory / MANIFEST_FILE).is_file():
        if config_path.is_file():
            raise ModelLoadError(f"{directory}: incomplete model directory (no {MANIFEST_FILE}; was saving interrupted?)")
        raise ModelLoadError(f"{directory} is not a bertkit {cls.TASK} model directory (no {CONFIG_FILE}){tail}")
    verify_manifest(directory)
    return config_from_dict(cls, _read_json(config_path), str(config_path))


def member_dir(directory: Path, member: str) -> Path:
    """The sub-directory ``member`` of ``directory``, refused unless it stays inside once resolved."""
    check_relative(member, str(directory / CONFIG_FILE), "member")
    path = directory / member
    if not path.resolve().is_relative_to(directory.resolve()) or path.resolve() == directory.resolve():
        raise ModelLoadError(f"{directory}: member {member!r} resolves outside the directory")
    return path


def convert_model_dir(directory: str | os.PathLike, cls) -> Path:
    """Rewrite an older directory of task ``cls.TASK`` in the current format, in place.

    Verified first with the old scheme; ensemble members are converted before their
    ensemble. A directory already in the current format is verified and left alone.
    """
    directory = Path(directory)
    config = read_model_dir(directory, cls)
    if not any((directory / name).is_file() for name in LEGACY_FILES):
        return directory
    for member in getattr(config, "members", []):
        convert_model_dir(member_dir(directory, member), cls)
    with rewrite_model_dir(directory) as stage:
        for name in LEGACY_FILES:
            (stage / name).unlink(missing_ok=True)
        finish_writing(stage, config)
    return directory
