"""``bertkit convert``: an older directory becomes the common format; the shipped ones already are."""

from __future__ import annotations

import shutil
from pathlib import Path

from bertkit.cli.app import main
from bertkit.modeldir import default_model_dir



def test_convert_a_legacy_classifier(tmp_path, capsys):
    """A bertkit 0.1 classifier: bertkit_classifier.json with a files map that skipped itself."""
    import hashlib
    import json

    old = tmp_path / "old"
    shutil.copytree(default_model_dir("classifier"), old)
    config = json.loads((old / "bertkit.json").read_text())
    del config["task"], config["schema_version"]
    (old / "bertkit.json").unlink()
    (old / "manifest.json").unlink()
    files = {p.relative_to(old).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(old.rglob("*")) if p.is_file() and p.suffix in (".json", ".safetensors")}
    (old / "bertkit_classifier.json").write_text(json.dumps({**config, "files": files, "format": "bertkit-classifier", "version": 1}))
    from bertkit.classification.config import read_config

    assert read_config(old).labels == ["negative", "positive"]  # read (and verified) through the compat path
    assert main(["convert", str(old)]) == 0
    assert "converted" in capsys.readouterr().err
    assert not (old / "bertkit_classifier.json").exists() and (old / "manifest.json").is_file()
    assert read_config(old).labels == ["negative", "positive"]
    assert main(["convert", str(old)]) == 0 and "already in the current format" in capsys.readouterr().err


def test_convert_refuses_other_directories(tmp_path, capsys):
    assert main(["convert", str(tmp_path)]) == 2
    assert "not an older bertkit model directory" in capsys.readouterr().err
