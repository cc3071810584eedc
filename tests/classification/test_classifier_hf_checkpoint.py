"""transformers ``AutoModelForSequenceClassification`` directories load as they are: labels
from id2label, probabilities within 1e-4 of transformers' own forward (torch and ONNX),
multi-label through a sigmoid, and through ``bertkit classify predict --model DIR``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hf_tiny import CLASS_LABELS, TEXTS, reference_probabilities, save_checkpoint

from bertkit import Classifier, ModelLoadError
from bertkit.cli.app import main


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("hf-cls") / "model", "classifier")


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("hf-multi") / "model", "classifier", multi_label=True, seed=1)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_single_label_probabilities_match_transformers(single, backend, one_thread):
    clf = Classifier.load(single, backend=backend, dtype="fp32")
    assert clf.runtime.backend == backend
    assert clf.labels == CLASS_LABELS
    got = clf.predict_proba(TEXTS)  # (N, C)
    want = reference_probabilities(single, TEXTS)
    assert np.abs(got - want).max() < 1e-4
    assert (want.max(axis=1) - want.min(axis=1)).max() > 0.2  # far from uniform: the comparison means something
    predictions = clf.predict(TEXTS)
    assert [p.label for p in predictions] == [CLASS_LABELS[i] for i in want.argmax(axis=1)]
    assert all(p.labels == [p.label] for p in predictions)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_multi_label_uses_a_sigmoid_and_every_label_over_half(multi, backend, one_thread):
    clf = Classifier.load(multi, backend=backend, dtype="fp32")
    assert clf.multi_label
    got = clf.predict_proba(TEXTS)
    want = reference_probabilities(multi, TEXTS, multi_label=True)
    assert np.abs(got - want).max() < 1e-4
    for prediction, row in zip(clf.predict(TEXTS), want):
        assert prediction.labels == [label for label, p in zip(CLASS_LABELS, row) if p > 0.5]
        assert prediction.to_dict()["labels"] == prediction.labels


def test_pairs_are_accepted_for_a_transformers_classifier(single):
    from hf_tiny import reference

    clf = Classifier.load(single, backend="torch", dtype="fp32")
    model, tokenizer = reference(single, "classifier")
    import torch

    with torch.no_grad():
        want = torch.softmax(model(**tokenizer(TEXTS[:2], TEXTS[2:], padding=True, return_tensors="pt")).logits, -1).numpy()
    assert np.abs(clf.predict_proba(TEXTS[:2], TEXTS[2:]) - want).max() < 1e-4


def test_cli_predicts_with_a_transformers_directory(single, capsys):
    code = main(["classify", "predict", TEXTS[0], TEXTS[2], "--model", str(single), "--json", "--backend", "torch", "--dtype", "fp32"])
    out, err = capsys.readouterr()
    assert code in (0, None), err
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    want = reference_probabilities(single, [TEXTS[0], TEXTS[2]])
    assert [r["label"] for r in rows] == [CLASS_LABELS[i] for i in want.argmax(axis=1)]


def test_a_bare_encoder_or_another_task_is_refused_in_one_line(tiny_bert, tmp_path):
    with pytest.raises(ModelLoadError, match="is a bare encoder .*not a classifier; train one with"):
        Classifier.load(tiny_bert)
    qa = save_checkpoint(tmp_path / "qa", "qa")
    with pytest.raises(ModelLoadError, match="BertForQuestionAnswering checkpoint, not a classifier"):
        Classifier.load(qa)


def test_a_checkpoint_without_its_head_weights_is_refused(single, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(single, broken)
    weights = {k: v for k, v in load_file(str(broken / "model.safetensors")).items() if not k.startswith("classifier.")}
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match="lacks 2 head weights"):
        Classifier.load(broken, backend="torch", dtype="fp32")
