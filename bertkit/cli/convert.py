"""``bertkit convert``: rewrite a model directory of bertkit 0.1 in the common format."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from bertkit.cli.options import err_console
from bertkit.errors import UsageError
from bertkit.modeldir import CONFIG_FILE, convert_model_dir
from bertkit.modeldir.legacy import LEGACY_CLASSIFIER_FILE, LEGACY_QA_FILE


def _config_class(directory: Path):
    from bertkit.classification.config import ClassifierConfig
    from bertkit.qa.modeldir import QAConfig

    if (directory / LEGACY_CLASSIFIER_FILE).is_file():
        return ClassifierConfig
    if (directory / LEGACY_QA_FILE).is_file():
        return QAConfig
    return None


def convert_command(directory: Path = typer.Argument(..., help="An older classifier or QA model directory, rewritten in place.")) -> None:
    """Convert a classifier or QA directory of the older layout (bertkit_classifier.json / qa_config.json)
    to the common model-directory format (bertkit.json + manifest.json), verifying it first."""
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory")
    cls = _config_class(directory)
    if cls is None:
        if (directory / CONFIG_FILE).is_file():
            err_console.print(f"{escape(str(directory))} is already in the current format; nothing to do")
            return
        raise UsageError(f"{directory}: no {LEGACY_CLASSIFIER_FILE} or {LEGACY_QA_FILE}; not an older bertkit model directory")
    convert_model_dir(directory, cls)
    err_console.print(f"converted {escape(str(directory))} ({cls.TASK}): wrote {CONFIG_FILE} and manifest.json")
