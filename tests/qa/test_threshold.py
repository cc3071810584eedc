"""The null threshold: chosen on held-out questions, stored in the directory, used by the reader."""

import math

import pytest
from qa_tiny_squad import CONTEXTS, squad_dict, write_squad

from bertkit.errors import ModelLoadError, UsageError
from bertkit.modeldir import verify_manifest
from bertkit.qa.evaluate import evaluate_squad
from bertkit.qa.metric import squad_v2
from bertkit.qa.modeldir import QAConfig, load_qa_model
from bertkit.qa.squad import read_squad
from bertkit.qa.threshold import choose_null_threshold, write_null_threshold
from bertkit.qa.train import QATrainArgs, train_qa

CONFIG = dict(max_length=64, doc_stride=16, max_question_length=16)
ARGS = dict(epochs=6, lr=2e-2, batch_size=5, warmup_ratio=0.0, weight_decay=0.0, checkpoint_every=0, seed=3, train_layers=1)
HELD_OUT = [  # other questions on the same contexts, two of them unanswerable
    (0, "In which city was Curie born?", "Warsaw"),
    (0, "Who was the president of France in 1903?", None),
    (1, "How long is the Amazon?", "about 6,400 km"),
    (1, "What is the capital of Brazil?", None),
]


@pytest.fixture(scope="module")
def trained(tiny_bert, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qa-threshold")
    train = write_squad(tmp / "train.json", squad_dict(version_2=True))
    held = write_squad(tmp / "held.json", squad_dict(version_2=True, qas=HELD_OUT, contexts=CONTEXTS))
    outcome = train_qa(train, tmp / "model", threshold_path=held, base=tiny_bert, config=QAConfig(**CONFIG),
                       args=QATrainArgs(**ARGS), device="cpu")
    return outcome, held, tmp / "model"


def test_training_saves_the_f1_best_threshold_of_the_held_out_questions(trained):
    outcome, held, out = trained
    model, config = load_qa_model(out, device="cpu")
    # the official script's best_f1_thresh over the model's best spans, found independently here
    spans = evaluate_squad(model, config, read_squad(held), null_threshold=math.inf)
    references = {"q0": ["Warsaw"], "q1": [], "q2": ["about 6,400 km"], "q3": []}
    official = squad_v2(references, spans.predictions, spans.null_odds)
    assert config.null_threshold == pytest.approx(official["best_f1_thresh"])
    record = config.training["null_threshold"]
    assert record["data"] == "held.json" and record["questions"] == 4 and record["f1"] == pytest.approx(official["best_f1"], abs=1e-3)
    # the saved threshold is the one the model uses: F1 at it equals the best F1
    assert evaluate_squad(model, config, read_squad(held)).f1 == pytest.approx(official["best_f1"])


def test_write_null_threshold_rewrites_config_and_manifest_only(trained, tmp_path):
    import shutil

    outcome, held, out = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    weights_before = (copy / "qa_weights.safetensors").read_bytes()
    model, config = load_qa_model(copy, device="cpu")
    choice = choose_null_threshold(model, config, read_squad(held), source="held.json")
    moved = choice.__class__(**{**choice.__dict__, "threshold": choice.threshold + 123.0})
    written = write_null_threshold(copy, moved)
    assert written.null_threshold == pytest.approx(choice.threshold + 123.0)
    verify_manifest(copy)  # the manifest covers the new config
    _, reloaded = load_qa_model(copy, device="cpu")
    assert reloaded.null_threshold == pytest.approx(choice.threshold + 123.0)
    assert (copy / "qa_weights.safetensors").read_bytes() == weights_before
    with pytest.raises(ModelLoadError):
        write_null_threshold(tmp_path / "missing", moved)


def test_threshold_data_needs_answerable_and_unanswerable_questions(trained, tmp_path):
    outcome, held, out = trained
    v1 = write_squad(tmp_path / "v1.json", squad_dict(version_2=False))
    with pytest.raises(UsageError, match="threshold_data v1.json must be SQuAD 2.0"):
        choose_null_threshold(outcome.model, outcome.config, read_squad(v1), source="v1.json")



@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_epochs_are_judged_at_their_best_threshold_when_one_will_be_chosen(tiny_bert, tmp_path):
    train = write_squad(tmp_path / "train.json", squad_dict(version_2=True))
    held = write_squad(tmp_path / "held.json", squad_dict(version_2=True, qas=HELD_OUT, contexts=CONTEXTS))
    args = QATrainArgs(**dict(ARGS, epochs=2))
    outcome = train_qa(train, tmp_path / "m", dev_path=held, threshold_path=held, base=tiny_bert, config=QAConfig(**CONFIG),
                       args=args, device="cpu")
    history = outcome.result.history
    assert all("best_f1" in h and h["best_f1"] >= h["f1"] - 1e-9 for h in history)
    assert outcome.result.best_metric == max(h["best_f1"] for h in history)
    plain = train_qa(train, tmp_path / "p", dev_path=held, base=tiny_bert, config=QAConfig(**CONFIG), args=args, device="cpu")
    assert "best_f1" not in plain.result.history[0]  # no threshold to choose: judged at the model's threshold
