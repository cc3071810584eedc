"""Soft-voting ensembles of classifiers trained separately.

``bertkit classify train --pooling all`` builds an ensemble of every pooling in one run;
:func:`build_ensemble` builds one from model directories that already exist (other
poolings, seeds, modes or runs): each is verified and copied, unchanged, under
``members/<name>/`` of a new directory whose config (kind ``ensemble``) lists them. The
ensemble predicts the mean of its members' probabilities.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from bertkit.classification.config import ClassifierConfig, EncoderSpec
from bertkit.classification.modeldir import read_verified, write_config
from bertkit.errors import ParameterError
from bertkit.modeldir import writing_model_dir

__all__ = ["build_ensemble", "member_names"]


def member_names(configs: Sequence[ClassifierConfig]) -> list[str]:
    """One unique, filesystem-safe name per (single-model) member: its pooling, numbered when repeated."""
    bases = [re.sub(r"[^A-Za-z0-9_.+-]", "_", c.head.pooling) for c in configs]
    names = []
    for i, base in enumerate(bases):
        names.append(f"{base}-{bases[:i].count(base) + 1}" if bases.count(base) > 1 else base)
    return names


def _check_members(models: Sequence[Path], configs: Sequence[ClassifierConfig]) -> None:
    if len(models) < 2:
        raise ParameterError("models", f"an ensemble needs at least two models, got {len(models)}")
    first = configs[0]
    for model, config in zip(models, configs):
        if config.kind != "single":
            raise ParameterError("models", f"{model} is an ensemble; give its members (under {model}/members/) instead")
        if config.encoder.source == "parent":
            raise ParameterError("models", f"{model} uses its ensemble's encoder; it cannot stand alone")
        if config.labels != first.labels:
            raise ParameterError("models", f"{model} has labels {config.labels}, {models[0]} has {first.labels}: members need the same labels")
        if config.pairs != first.pairs:
            raise ParameterError("models", f"{model} and {models[0]} differ in pairs (sentence pairs vs single texts)")


def build_ensemble(models: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Copy the verified single models ``models`` into a new soft-voting ensemble at ``out``."""
    paths = [Path(m).expanduser() for m in models]
    configs = [read_verified(p) for p in paths]
    _check_members(paths, configs)
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise ParameterError("out", f"{out} exists and is not empty; give a new directory")
    names = member_names(configs)
    with writing_model_dir(out) as stage:  # built beside out, swapped in whole
        _write(stage, paths, names, configs)
    return out


def _write(directory: Path, paths: list[Path], names: list[str], configs: list) -> None:
    for path, name in zip(paths, names):
        shutil.copytree(path, directory / "members" / name, ignore=shutil.ignore_patterns(".*"))
    modes = {c.mode for c in configs}
    config = ClassifierConfig(
        labels=list(configs[0].labels), max_length=max(c.max_length for c in configs), kind="ensemble",
        mode=configs[0].mode if len(modes) == 1 else "finetune", pairs=configs[0].pairs, encoder=EncoderSpec("members"),
        members=[f"members/{n}" for n in names],
        training={**{k: v for k, v in configs[0].training.items() if k == "label_names"}, "ensemble_of": [str(p) for p in paths]},
        metrics={"members": {n: c.metrics.get("dev_accuracy") for n, c in zip(names, configs)}},
    )
    write_config(directory, config)
