"""The one model-directory format: typed config, manifest over every file, one verifier."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import pytest

from bertkit.errors import ModelLoadError
from bertkit.modeldir import (
    CONFIG_FILE,
    MANIFEST_FILE,
    convert_model_dir,
    default_model_dir,
    finish_writing,
    member_dir,
    read_model_dir,
    start_writing,
    verify_manifest,
)


@dataclass
class Part:
    rate: float = 0.1
    size: int | None = None


@dataclass
class ToyConfig:
    TASK: ClassVar[str] = "toy"
    SCHEMA_VERSION: ClassVar[int] = 2

    labels: list[str]
    max_length: int
    kind: Literal["single", "ensemble"] = "single"
    pairs: bool = False
    part: Part = field(default_factory=Part)
    notes: dict = field(default_factory=dict)


def _save(directory: Path, config: ToyConfig | None = None) -> Path:
    start_writing(directory)
    (directory / "weights.safetensors").write_bytes(b"w" * 10)
    (directory / "sub").mkdir(exist_ok=True)
    (directory / "sub" / "vocab.txt").write_text("a\nb\n")
    (directory / ".train").mkdir(exist_ok=True)
    (directory / ".train" / "scratch.json").write_text("{}")  # hidden: work files are not part of the model
    return finish_writing(directory, config or ToyConfig(labels=["neg", "pos"], max_length=64))


def _edit_config(directory: Path, resign: bool = True, **changes) -> None:
    """Change the config; ``resign`` updates the manifest so that only the content check fires."""
    path = directory / CONFIG_FILE
    data = json.loads(path.read_text())
    for key, value in changes.items():
        target = data
        *parents, last = key.split(".")
        for p in parents:
            target = target[p]
        target[last] = value
    path.write_text(json.dumps(data))
    if resign:
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
        manifest["files"][CONFIG_FILE] = hashlib.sha256(path.read_bytes()).hexdigest()
        (directory / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_round_trip_and_layout(tmp_path):
    d = _save(tmp_path / "m", ToyConfig(labels=["a", "b"], max_length=8, part=Part(0.5, 3), notes={"x": [1]}))
    data = json.loads((d / CONFIG_FILE).read_text())
    assert data["task"] == "toy" and data["schema_version"] == 2
    manifest = json.loads((d / MANIFEST_FILE).read_text())
    assert set(manifest["files"]) == {CONFIG_FILE, "weights.safetensors", "sub/vocab.txt"}  # the config too; no hidden files
    assert read_model_dir(d, ToyConfig) == ToyConfig(labels=["a", "b"], max_length=8, part=Part(0.5, 3), notes={"x": [1]})


@pytest.mark.parametrize(
    "change, message",
    [
        ({"max_length": "sixty-four"}, "field 'max_length' must be an integer, got 'sixty-four' (str)"),
        ({"max_length": True}, "field 'max_length' must be an integer, got True (bool)"),
        ({"max_length": 6.5}, "field 'max_length' must be an integer, got 6.5 (float)"),
        ({"pairs": "yes"}, "field 'pairs' must be true or false, got 'yes' (str)"),
        ({"labels": "neg,pos"}, "field 'labels' must be a list, got 'neg,pos' (str)"),
        ({"labels": ["neg", 3]}, "field 'labels[1]' must be a string, got 3 (int)"),
        ({"kind": "triple"}, "field 'kind' must be one of 'single', 'ensemble', got 'triple'"),
        ({"part.rate": "fast"}, "field 'part.rate' must be a finite number, got 'fast' (str)"),
        ({"part.size": "big"}, "field 'part.size' must be an integer or null, got 'big' (str)"),
        ({"part": [1]}, "field 'part' must be a JSON object, got a list"),
        ({"notes": 3}, "field 'notes' must be a JSON object, got 3 (int)"),
        ({"colour": "blue"}, "unknown key 'colour'; valid keys: labels, max_length, kind, pairs, part, notes"),
        ({"part.colour": 1}, "unknown key 'part.colour'; valid keys: rate, size"),
        ({"task": "classifier"}, "task 'classifier' is not 'toy'"),
        ({"schema_version": 3}, "schema_version 3 is newer than this bertkit reads (2); upgrade bertkit"),
        ({"schema_version": "1"}, "field 'schema_version' must be a positive integer, got '1'"),
    ],
)
def test_every_field_is_type_checked_in_one_line(tmp_path, change, message):
    d = _save(tmp_path / "m")
    _edit_config(d, **change)
    with pytest.raises(ModelLoadError) as info:
        read_model_dir(d, ToyConfig)
    text = str(info.value)
    assert message in text and "\n" not in text
    assert text.startswith(str(d))  # names the file


def test_floats_accept_integers_and_missing_keys_are_named(tmp_path):
    d = _save(tmp_path / "m")
    _edit_config(d, **{"part.rate": 1})
    assert read_model_dir(d, ToyConfig).part.rate == 1.0
    data = json.loads((d / CONFIG_FILE).read_text())
    del data["labels"]
    (d / CONFIG_FILE).write_text(json.dumps(data))
    _edit_config(d)
    with pytest.raises(ModelLoadError, match="required key 'labels' is missing"):
        read_model_dir(d, ToyConfig)


def test_the_manifest_covers_the_config(tmp_path):
    d = _save(tmp_path / "m")
    _edit_config(d, resign=False, labels=["pos", "neg"])  # swapped labels would invert every prediction
    with pytest.raises(ModelLoadError, match=f"{CONFIG_FILE} was altered after saving"):
        read_model_dir(d, ToyConfig)


def test_altered_missing_and_unlisted_files(tmp_path):
    d = _save(tmp_path / "m")
    (d / "sub" / "vocab.txt").write_text("a\nc\n")
    with pytest.raises(ModelLoadError, match="sub/vocab.txt was altered after saving"):
        read_model_dir(d, ToyConfig)
    (d / "sub" / "vocab.txt").write_text("a\nb\n")
    (d / "notes.png").write_bytes(b"png")  # not something a loader reads: tolerated
    (d / "sub" / "added_tokens.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="sub/added_tokens.json is not listed in manifest.json"):
        read_model_dir(d, ToyConfig)
    (d / "sub" / "added_tokens.json").unlink()
    (d / "weights.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="incomplete model directory, weights.safetensors is missing"):
        read_model_dir(d, ToyConfig)


def test_interrupted_foreign_and_missing_directories(tmp_path):
    d = start_writing(tmp_path / "m")
    (d / CONFIG_FILE).write_text("{}")
    with pytest.raises(ModelLoadError, match="incomplete model directory \\(no manifest.json; was saving interrupted"):
        read_model_dir(d, ToyConfig)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="is not a bertkit toy model directory \\(no bertkit.json\\); train one"):
        read_model_dir(tmp_path / "empty", ToyConfig, hint="train one")
    with pytest.raises(ModelLoadError, match="does not exist"):
        read_model_dir(tmp_path / "nowhere", ToyConfig)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ModelLoadError, match="is a file"):
        read_model_dir(tmp_path / "afile", ToyConfig)


def test_manifest_paths_must_stay_inside(tmp_path):
    d = _save(tmp_path / "m")
    (tmp_path / "outside.txt").write_text("x")
    manifest = json.loads((d / MANIFEST_FILE).read_text())
    manifest["files"]["../outside.txt"] = hashlib.sha256(b"x").hexdigest()
    (d / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match="'../outside.txt' must be a relative path inside the directory"):
        verify_manifest(d)


def test_members_must_resolve_inside(tmp_path):
    d = _save(tmp_path / "e")
    (d / "members" / "a").mkdir(parents=True)
    assert member_dir(d, "members/a") == d / "members" / "a"
    for bad in ("../x", "/etc", "members/../../x", ""):
        with pytest.raises(ModelLoadError, match="must be a relative path inside the directory"):
            member_dir(d, bad)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", d / "members" / "b")
    with pytest.raises(ModelLoadError, match="member 'members/b' resolves outside the directory"):
        member_dir(d, "members/b")


def test_legacy_directories_load_and_convert(tmp_path):
    """A pre-format QA directory: its own manifest is checked, then it reads like any other."""
    d = tmp_path / "old"
    d.mkdir()
    (d / "qa_weights.safetensors").write_bytes(b"w")
    (d / "qa_config.json").write_text(json.dumps({"max_length": 48, "version_2": True}))
    digest = {n: hashlib.sha256((d / n).read_bytes()).hexdigest() for n in ("qa_config.json", "qa_weights.safetensors")}
    (d / MANIFEST_FILE).write_text(json.dumps({"format": "bertkit-qa/1", "files": digest}))
    from bertkit.qa.modeldir import QAConfig

    assert read_model_dir(d, QAConfig).max_length == 48
    (d / "qa_weights.safetensors").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="qa_weights.safetensors was altered after saving"):
        read_model_dir(d, QAConfig)
    (d / "qa_weights.safetensors").write_bytes(b"w")
    convert_model_dir(d, QAConfig)
    assert not (d / "qa_config.json").exists() and read_model_dir(d, QAConfig).version_2
    assert json.loads((d / CONFIG_FILE).read_text())["task"] == "qa"


def test_new_and_old_configs_together_are_refused(tmp_path):
    d = _save(tmp_path / "m")
    (d / "qa_config.json").write_text("{}")  # an older model's files copied over this one
    with pytest.raises(ModelLoadError, match="holds both bertkit.json and the older qa_config.json"):
        read_model_dir(d, ToyConfig)


def test_one_default_model_helper():
    assert (default_model_dir() / "config.json").is_file()  # the packaged encoder
    assert (default_model_dir("classifier") / CONFIG_FILE).is_file()
    assert (default_model_dir("qa") / CONFIG_FILE).is_file()
    with pytest.raises(ValueError, match="unknown task 'nonsense'; valid options: encoder, classifier, qa"):
        default_model_dir("nonsense")


def test_shipped_models_are_in_the_current_format():
    from bertkit.classification.config import ClassifierConfig
    from bertkit.qa.modeldir import QAConfig

    for task, cls in (("classifier", ClassifierConfig), ("qa", QAConfig)):
        directory = default_model_dir(task)
        assert not (directory / "bertkit_classifier.json").exists() and not (directory / "qa_config.json").exists()
        assert read_model_dir(directory, cls).max_length > 0
