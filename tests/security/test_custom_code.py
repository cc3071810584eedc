"""No code runs from a model directory: auto_map, unknown model types, custom tokenizers."""

from __future__ import annotations

import io
import json
import shutil
import sys

import pytest

from bertkit.cli.app import main
from bertkit.encoder.loading import load_tokenizer
from bertkit.errors import ModelLoadError

EVIL = '''
import pathlib
pathlib.Path({marker!r}).write_text("code from the model directory ran")
from transformers import PretrainedConfig, PreTrainedModel
class EvilConfig(PretrainedConfig):
    model_type = "evil"
class EvilModel(PreTrainedModel):
    config_class = EvilConfig
'''


def hostile_dir(tmp_path, tiny_bert, *, config_changes: dict, tokenizer_changes: dict | None = None):
    """A copy of a tiny BERT whose config asks for the directory's own evil.py."""
    target = tmp_path / "hostile"
    shutil.copytree(tiny_bert, target)
    marker = tmp_path / "marker"
    (target / "evil.py").write_text(EVIL.format(marker=str(marker)))
    config = json.loads((target / "config.json").read_text())
    config.update(config_changes)
    (target / "config.json").write_text(json.dumps(config))
    if tokenizer_changes:
        tc = json.loads((target / "tokenizer_config.json").read_text())
        tc.update(tokenizer_changes)
        (target / "tokenizer_config.json").write_text(json.dumps(tc))
    return target, marker


AUTO_MAP = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}


def test_auto_map_refused_before_any_prompt(tmp_path, tiny_bert, capsys, monkeypatch):
    """A user answering 'y' to transformers' custom-code prompt must not get the code run."""
    model, marker = hostile_dir(tmp_path, tiny_bert, config_changes={"model_type": "evil", "auto_map": AUTO_MAP})
    (tmp_path / "in.txt").write_text("hello\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\ny\ny\n"))
    code = main(["embed", str(tmp_path / "in.txt"), "-o", str(tmp_path / "out.npy"), "--model", str(model)])
    _, err = capsys.readouterr()
    assert code == 2
    assert not marker.exists()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "auto_map" in lines[0] and "never runs code" in lines[0], err
    assert not (tmp_path / "out.npy").exists()


def test_auto_map_with_known_model_type_refused(tmp_path, tiny_bert):
    model, marker = hostile_dir(tmp_path, tiny_bert, config_changes={"auto_map": AUTO_MAP})
    with pytest.raises(ModelLoadError, match="auto_map"):
        load_tokenizer(model)
    assert not marker.exists()


def test_unknown_model_type_refused(tmp_path, tiny_bert):
    model, marker = hostile_dir(tmp_path, tiny_bert, config_changes={"model_type": "evil"})
    with pytest.raises(ModelLoadError, match="model_type 'evil' is not a built-in"):
        load_tokenizer(model)
    assert not marker.exists()


def test_custom_tokenizer_refused(tmp_path, tiny_bert):
    model, marker = hostile_dir(
        tmp_path, tiny_bert, config_changes={}, tokenizer_changes={"auto_map": {"AutoTokenizer": ["evil.EvilTokenizer", None]}}
    )
    with pytest.raises(ModelLoadError, match="tokenizer_config.json: the model asks to run its own Python code"):
        load_tokenizer(model)
    assert not marker.exists()


def test_loaders_never_trust_remote_code():
    """Every transformers Auto*.from_pretrained call in bertkit passes trust_remote_code=False."""
    import ast
    from pathlib import Path

    import bertkit

    calls = []
    for path in Path(bertkit.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "from_pretrained":
                owner = node.func.value
                if isinstance(owner, ast.Name) and (owner.id.startswith("Auto") or owner.id == "auto"):  # auto: the AutoModelFor... class chosen per task
                    trusted = [k.value for k in node.keywords if k.arg == "trust_remote_code"]
                    calls.append((f"{path.name}:{node.lineno}", trusted))
    assert len(calls) >= 3
    assert all(len(t) == 1 and isinstance(t[0], ast.Constant) and t[0].value is False for _, t in calls), calls
