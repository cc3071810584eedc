"""Training on tiny SQuAD data: a tiny model memorises it; resume continues a killed run."""

import json

import pytest
import torch
from qa_tiny_squad import squad_dict, write_squad

from bertkit.errors import UsageError
from bertkit.qa.evaluate import evaluate_squad
from bertkit.qa.modeldir import QAConfig, load_qa_model
from bertkit.qa.squad import read_squad
from bertkit.qa.train import QATrainArgs, train_qa

CONFIG = dict(max_length=64, doc_stride=16, max_question_length=16)
ARGS = dict(epochs=40, lr=2e-2, batch_size=5, warmup_ratio=0.0, weight_decay=0.0, checkpoint_every=0, seed=3, train_layers=2)


@pytest.fixture(scope="module")
def trained(tiny_bert, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qa-train")
    data = write_squad(tmp / "train.json", squad_dict(version_2=True))
    given = QAConfig(**CONFIG)
    outcome = train_qa(data, tmp / "model", base=tiny_bert, config=given, args=QATrainArgs(**ARGS), device="cpu")
    assert given == QAConfig(**CONFIG) and outcome.config is not given  # the caller's config is never written into
    return outcome, data, tmp / "model"


def test_tiny_model_overfits_to_exact_match_100(trained):
    outcome, data, out = trained
    result = evaluate_squad(outcome.model, outcome.config, read_squad(data))
    assert result.metrics["exact"] == 100.0 and result.metrics["f1"] == 100.0
    assert result.predictions["q4"] == ""  # the unanswerable question gets "no answer"
    assert outcome.result.history[0]["train_loss"] > outcome.result.history[-1]["train_loss"]
    # the saved directory (top 2 layers + head only) reproduces the predictions
    model, config = load_qa_model(out, device="cpu")
    assert config.version_2 and config.train_layers == 2 and config.training["questions"] == 5
    assert evaluate_squad(model, config, read_squad(data)).predictions == result.predictions
    assert (out / "training_curves.png").stat().st_size > 0 and not (out / "checkpoint").exists()


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_resume_continues_a_killed_run(tiny_bert, tmp_path, monkeypatch):
    data = write_squad(tmp_path / "train.json", squad_dict(version_2=True))
    args = dict(ARGS, epochs=3, batch_size=2, checkpoint_every=2, train_layers=None)
    full = train_qa(data, tmp_path / "full", base=tiny_bert, config=QAConfig(**CONFIG), args=QATrainArgs(**args), device="cpu")

    from bertkit.qa import model as model_module

    calls = {"n": 0}
    original = model_module.QAModel.loss

    def dying_loss(self, batch):
        calls["n"] += 1
        if calls["n"] == 5:  # killed in the middle of epoch 2 (3 batches an epoch)
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(model_module.QAModel, "loss", dying_loss)
    with pytest.raises(KeyboardInterrupt):
        train_qa(data, tmp_path / "run", base=tiny_bert, config=QAConfig(**CONFIG), args=QATrainArgs(**args), device="cpu")
    state = json.loads((tmp_path / "run" / ".train" / "checkpoint" / "state.json").read_text())
    assert state["state"]["global_step"] == 4
    monkeypatch.setattr(model_module.QAModel, "loss", original)
    resumed = train_qa(data, tmp_path / "run", base=tiny_bert, config=QAConfig(**CONFIG), args=QATrainArgs(**args), resume=True, device="cpu")
    assert resumed.result.resumed_at == (1, 1)
    full_params = dict(full.model.named_parameters())
    for name, p in resumed.model.named_parameters():
        assert torch.allclose(p, full_params[name], atol=1e-5), name


def test_init_continues_from_a_trained_model(trained, tiny_bert, tmp_path):
    outcome, data, out = trained
    args = QATrainArgs(**dict(ARGS, epochs=1, lr=1e-9))  # (almost) no update: the start point shows through
    again = train_qa(data, tmp_path / "more", base=tiny_bert, config=QAConfig(**CONFIG), args=args, init=out, device="cpu")
    assert again.config.training["init"] == str(out)
    assert again.config.training["total_seconds"] >= outcome.config.training["seconds"]
    result = evaluate_squad(again.model, again.config, read_squad(data))
    assert result.metrics["exact"] == 100.0
    with pytest.raises(UsageError, match="was trained on base"):
        train_qa(data, tmp_path / "bad", base=None, config=QAConfig(**CONFIG), args=args, init=out, device="cpu")
