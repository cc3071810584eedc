"""Every QA directory names its base encoder by sha256 (the shipped one included), and a
base that differs is refused with one line naming both hashes."""

from __future__ import annotations

import json
import shutil

import pytest

from bertkit.encoder import Encoder
from bertkit.encoder.fingerprint import weights_sha256
from bertkit.errors import ModelLoadError
from bertkit.modeldir import default_model_dir
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig, load_qa_model, read_config, save_qa_model


def test_the_shipped_reader_names_the_packaged_encoder_by_sha256():
    _, config = read_config(None)
    assert config.base_model == "default"
    assert config.base_sha256 == weights_sha256(default_model_dir())


def test_a_saved_reader_names_its_base_and_refuses_another(tiny_bert, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_bert, base)
    model = QAModel(Encoder(base, device="cpu", max_length=64))
    out = save_qa_model(model, QAConfig(base_model=str(base), max_length=64, doc_stride=16, max_question_length=16), tmp_path / "qa")
    saved = json.loads((out / "bertkit.json").read_text())
    assert saved["base_sha256"] == weights_sha256(base)
    load_qa_model(out, device="cpu")  # the same base loads
    from safetensors.torch import load_file, save_file

    weights = load_file(str(base / "model.safetensors"))
    weights["embeddings.word_embeddings.weight"] = weights["embeddings.word_embeddings.weight"] + 0.01
    save_file(weights, str(base / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError) as info:
        load_qa_model(out, device="cpu")
    message = str(info.value)
    assert "\n" not in message
    assert saved["base_sha256"][:16] in message and weights_sha256(base)[:16] in message


def test_weights_sha256_is_the_single_files_hash(tiny_bert):
    from bertkit.io.files import sha256_file

    assert weights_sha256(tiny_bert) == sha256_file(tiny_bert / "model.safetensors")
