"""Directories written before the one model-directory format (bertkit <= 0.1).

Two older layouts exist:

- classifier: ``bertkit_classifier.json`` holding the config and a ``files`` map of
  sha256 (which did not cover the config itself);
- QA reader: ``qa_config.json`` plus a ``manifest.json`` of format ``bertkit-qa/1``.

:func:`read_legacy` verifies such a directory with its own scheme and returns the
config as the current format's JSON object, so it loads like any other;
:func:`bertkit.modeldir.convert_model_dir` rewrites it in the current format.
"""

from __future__ import annotations

import json
from pathlib import Path

from bertkit.errors import ModelLoadError
from bertkit.io.files import sha256_file
from bertkit.modeldir.schema import check_relative

__all__ = ["LEGACY_CLASSIFIER_FILE", "LEGACY_QA_FILE", "LEGACY_FILES", "read_legacy"]

LEGACY_CLASSIFIER_FILE = "bertkit_classifier.json"
LEGACY_QA_FILE = "qa_config.json"
LEGACY_FILES = (LEGACY_CLASSIFIER_FILE, LEGACY_QA_FILE)
_TASK_VERSION = 1  # what the old layouts correspond to in the current schema


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return data


def _check(directory: Path, files: object, where: Path) -> None:
    if not isinstance(files, dict):
        raise ModelLoadError(f"{where}: 'files' must be a JSON object of sha256 digests")
    for rel, digest in files.items():
        check_relative(rel, str(where), "file")
        if not (directory / rel).is_file():
            raise ModelLoadError(f"{directory}: incomplete model directory, {rel} is missing")
        if sha256_file(directory / rel) != digest:
            raise ModelLoadError(f"{directory}: {rel} was altered after saving (its sha256 does not match {where.name})")


def read_legacy(directory: Path, task: str) -> dict | None:
    """The config of an older ``task`` directory, verified; None when it is not one."""
    if task == "classifier" and (directory / LEGACY_CLASSIFIER_FILE).is_file():
        path = directory / LEGACY_CLASSIFIER_FILE
        data = _load(path)
        if data.pop("format", None) != "bertkit-classifier" or data.pop("version", None) != 1:
            raise ModelLoadError(f"{path}: not a bertkit-classifier version 1 config")
        _check(directory, data.pop("files", None), path)
        if data.get("kind", "single") == "single" and not any(str(r).endswith("head.safetensors") for r in _load(path)["files"]):
            raise ModelLoadError(f"{directory}: {LEGACY_CLASSIFIER_FILE} records no head.safetensors")
        return {"task": task, "schema_version": _TASK_VERSION, **data}
    if task == "qa" and (directory / LEGACY_QA_FILE).is_file():
        manifest_path = directory / "manifest.json"
        if not manifest_path.is_file():
            raise ModelLoadError(f"{directory}: incomplete model directory (no manifest.json; was saving interrupted?)")
        manifest = _load(manifest_path)
        if manifest.get("format") != "bertkit-qa/1":
            raise ModelLoadError(f"{manifest_path}: not a bertkit-qa/1 manifest")
        files = manifest.get("files")
        if not isinstance(files, dict) or set(files) != {LEGACY_QA_FILE, "qa_weights.safetensors"}:
            raise ModelLoadError(f"{manifest_path}: must list {LEGACY_QA_FILE} and qa_weights.safetensors")
        _check(directory, files, manifest_path)
        return {"task": task, "schema_version": _TASK_VERSION, **_load(directory / LEGACY_QA_FILE)}
    return None
