"""transformers ``AutoModelForQuestionAnswering`` directories (the ``qa_outputs`` layer) load
as they are: start and end logits within 1e-4 of transformers' own forward (torch and ONNX),
and through ``bertkit qa ask --model DIR``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hf_tiny import CONTEXTS, QUESTIONS, reference, save_checkpoint

from bertkit import Reader
from bertkit.cli.app import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("hf-qa") / "model", "qa")


@pytest.fixture(scope="module")
def want(checkpoint):
    model, tokenizer = reference(checkpoint, "qa")
    enc = tokenizer(QUESTIONS, CONTEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc)
    lengths = enc["attention_mask"].sum(1).tolist()
    return [(out.start_logits[i, :n].numpy(), out.end_logits[i, :n].numpy()) for i, n in enumerate(lengths)]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_start_and_end_logits_match_transformers(checkpoint, want, backend, one_thread):
    reader = Reader.load(checkpoint, backend=backend, dtype="fp32")
    assert reader.runtime.backend == backend
    assert not reader.config.version_2  # a checkpoint does not say it learned "no answer": the best span is given
    preds = reader.predictions(QUESTIONS, CONTEXTS)
    assert preds.features.example_index == [0, 1]  # one window per question: the windows are transformers' inputs
    for i, (start, end) in enumerate(want):
        assert np.abs(preds.start_logits[i] - start).max() < 1e-4
        assert np.abs(preds.end_logits[i] - end).max() < 1e-4
    assert np.abs(want[0][0]).max() > 0.5  # logits of some size: the comparison means something
    answers = reader.answer(QUESTIONS, CONTEXTS)
    assert all(a.text and a.text in c for a, c in zip(answers, CONTEXTS))


def test_cli_asks_a_transformers_directory(checkpoint, capsys):
    code = main(["qa", "ask", "--question", QUESTIONS[0], "--context", CONTEXTS[0], "--model", str(checkpoint),
                 "--backend", "torch", "--dtype", "fp32"])
    out, err = capsys.readouterr()
    assert code in (0, None), err
    expected = Reader.load(checkpoint, backend="torch", dtype="fp32").answer(QUESTIONS[:1], CONTEXTS[:1])[0].text
    assert expected in out


def test_the_config_and_manifest_name_the_base_by_sha256(checkpoint):
    reader = Reader.load(checkpoint, backend="torch", dtype="fp32")
    assert len(reader.config.base_sha256) == 64
    assert json.loads(json.dumps(reader.answer(QUESTIONS, CONTEXTS)[0].to_dict()))["text"]
