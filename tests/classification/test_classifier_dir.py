"""Classifier directories on the one format: config covered by the manifest, types checked,
ensemble members inside the directory and verified like any directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np
import pytest

from bertkit.classification import ClassifyData, HeadOptions, RunOptions, load_classifier, train_classifier
from bertkit.classification.config import ClassifierConfig, EncoderSpec
from bertkit.classification.modeldir import write_config
from bertkit.cli.app import main
from bertkit.errors import ModelLoadError
from tiny_data import sentiment_rows, write_rows


@pytest.fixture(scope="module")
def trained(tiny_bert, tmp_path_factory):
    """Trained once per module (training is the slow part); each test alters its own copy."""
    root = tmp_path_factory.mktemp("classifier_dir")
    train_csv = write_rows(root / "train.csv", sentiment_rows(24))
    out = root / "m"
    train_classifier(ClassifyData(train=str(train_csv), dev=str(train_csv)), out, HeadOptions(mode="features"),
                     RunOptions(epochs=1, patience=0, device="cpu"), model=tiny_bert)
    return out


@pytest.fixture()
def model(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "m")


def _rewrite(directory, resign: bool, **changes):
    path = directory / "bertkit.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))
    if resign:
        manifest = json.loads((directory / "manifest.json").read_text())
        manifest["files"]["bertkit.json"] = hashlib.sha256(path.read_bytes()).hexdigest()
        (directory / "manifest.json").write_text(json.dumps(manifest))


def test_swapped_labels_are_detected(model):
    labels = load_classifier(model).labels
    _rewrite(model, resign=False, labels=labels[::-1])
    with pytest.raises(ModelLoadError, match="bertkit.json was altered after saving"):
        load_classifier(model)


def test_a_mistyped_config_value_is_one_line_exit_2(model, capsys):
    _rewrite(model, resign=True, max_length="sixty-four")
    code = main(["classify", "predict", "--model", str(model), "a fine film"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "bertkit.json: field 'max_length' must be an integer, got 'sixty-four' (str)" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def _ensemble(directory, members: list[str], labels: list[str]) -> None:
    config = ClassifierConfig(labels=labels, max_length=16, kind="ensemble", mode="features", encoder=EncoderSpec("members"), members=members)
    write_config(directory, config)


def test_ensemble_members_live_inside_and_are_verified(model, tmp_path):
    labels = load_classifier(model).labels
    ens = tmp_path / "ens"
    shutil.copytree(model, ens / "members" / "a")
    _ensemble(ens, ["members/a"], labels)
    clf = load_classifier(ens)
    np.testing.assert_allclose(clf.predict_proba(["a fine film"]), load_classifier(model).predict_proba(["a fine film"]), atol=1e-6)
    assert "members/a/head.safetensors" in json.loads((ens / "manifest.json").read_text())["files"]

    for bad in (str(model), "../m"):  # absolute, or climbing out
        _ensemble(ens, [bad], labels)
        with pytest.raises(ModelLoadError, match="must be a relative path inside the directory"):
            load_classifier(ens)
    os.symlink(model, ens / "members" / "link")
    with pytest.raises(ModelLoadError, match="members/link/bertkit.json is not listed|resolves outside the directory"):
        _ensemble(ens, ["members/link"], labels)
        load_classifier(ens)


def test_an_altered_member_is_refused_on_its_own_manifest_too(model, tmp_path):
    labels = load_classifier(model).labels
    ens = tmp_path / "ens"
    shutil.copytree(model, ens / "members" / "a")
    _ensemble(ens, ["members/a"], labels)
    # Re-sign the ensemble over an altered member: the member's own manifest still refuses it.
    (ens / "members" / "a" / "head.safetensors").write_bytes(b"not the trained head")
    _ensemble(ens, ["members/a"], labels)
    with pytest.raises(ModelLoadError, match="members/a: head.safetensors was altered after saving"):
        load_classifier(ens)
