import json

import pytest
import torch

from bertkit.encoder import Encoder
from bertkit.errors import ModelLoadError
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import CONFIG_FILE, MANIFEST_FILE, WEIGHTS_FILE, QAConfig, load_qa_model, save_qa_model


@pytest.fixture
def saved(tiny_bert, tmp_path):
    torch.manual_seed(1)
    model = QAModel(Encoder(tiny_bert, device="cpu", max_length=48))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # "trained": differs from the base everywhere
    config = QAConfig(base_model=str(tiny_bert), max_length=48, doc_stride=8, max_question_length=16, train_layers=1, version_2=True)
    save_qa_model(model, config, tmp_path / "m")
    return model, tmp_path / "m"


def _batch():
    return {"input_ids": torch.tensor([[101, 2054, 102, 3000, 4000, 102]]), "token_type_ids": torch.tensor([[0, 0, 0, 1, 1, 1]]),
            "attention_mask": torch.ones(1, 6, dtype=torch.long)}


def test_round_trip_keeps_only_the_trained_layers(saved, tiny_bert):
    model, path = saved
    loaded, config = load_qa_model(path, device="cpu")
    assert config.train_layers == 1 and config.version_2 and config.max_length == 48
    from safetensors.torch import load_file

    names = set(load_file(str(path / WEIGHTS_FILE)))
    assert names == set(model.trainable_names(1))
    # the trained top layer and head come back; the lower layers come from the base (untouched there)
    out_a = loaded(_batch())
    base = QAModel(Encoder(tiny_bert, device="cpu", max_length=48))
    base.load_state_dict({**base.state_dict(), **{n: p for n, p in model.state_dict().items() if n in names}})
    base.eval()
    out_b = base(_batch())
    assert torch.allclose(out_a[0], out_b[0], atol=1e-6) and torch.allclose(out_a[1], out_b[1], atol=1e-6)


def test_fp16_weights_halve_the_file(tiny_bert, tmp_path):
    model = QAModel(Encoder(tiny_bert, device="cpu"))
    save_qa_model(model, QAConfig(base_model=str(tiny_bert), max_length=64, doc_stride=8, max_question_length=16, train_layers=None, weights_dtype="fp32"), tmp_path / "a")
    save_qa_model(model, QAConfig(base_model=str(tiny_bert), max_length=64, doc_stride=8, max_question_length=16, train_layers=None, weights_dtype="fp16"), tmp_path / "b")
    size = lambda d: (d / WEIGHTS_FILE).stat().st_size  # noqa: E731
    assert size(tmp_path / "b") < 0.55 * size(tmp_path / "a")
    loaded, _ = load_qa_model(tmp_path / "b", device="cpu")
    assert next(loaded.parameters()).dtype == torch.float32


def _rewrite_config(path, **changes):
    data = json.loads((path / CONFIG_FILE).read_text())
    data.update(changes)
    (path / CONFIG_FILE).write_text(json.dumps(data))
    # re-sign so that only the content check fires
    import hashlib

    manifest = json.loads((path / MANIFEST_FILE).read_text())
    manifest["files"][CONFIG_FILE] = hashlib.sha256((path / CONFIG_FILE).read_bytes()).hexdigest()
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_unknown_config_key_is_rejected(saved):
    _, path = saved
    _rewrite_config(path, pooling="mean")
    with pytest.raises(ModelLoadError, match="unknown key 'pooling'"):
        load_qa_model(path, device="cpu")


def test_tensors_must_match_the_config(saved):
    _, path = saved
    _rewrite_config(path, train_layers=2)
    with pytest.raises(ModelLoadError, match="lacks encoder.encoder.layer.1"):
        load_qa_model(path, device="cpu")


def test_altered_and_incomplete_directories_are_refused(saved, tmp_path):
    _, path = saved
    data = bytearray((path / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 1
    (path / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="was altered after saving"):
        load_qa_model(path, device="cpu")
    (path / MANIFEST_FILE).unlink()
    with pytest.raises(ModelLoadError, match="incomplete model directory"):
        load_qa_model(path, device="cpu")
    with pytest.raises(ModelLoadError, match="is not a bertkit qa model directory"):
        load_qa_model(tmp_path, device="cpu")
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_qa_model(tmp_path / "nope", device="cpu")
