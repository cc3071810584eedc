"""Transformers task checkpoints of every architecture, loaded as they are, against transformers'
own forward on the same directory (1e-4): ``AutoModelForSequenceClassification`` ->
Classifier, ``AutoModelForQuestionAnswering`` -> Reader (every window's logits),
``AutoModelForTokenClassification`` -> Tagger (per-word probabilities at each word's first piece).

Torch in the default suite (a fraction of a second each); ONNX with ``-m slow`` (and in
bench/architectures.py, which writes the BENCHMARKS.md table).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_archs import ARCHS

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["Who wrote War and Peace?", "A gorgeous, witty film that stays with you.", "hello"]
QUESTIONS = ["Where was Marie Curie born?"]
CONTEXTS = ["Marie Curie was born in Warsaw in 1867. She won the Nobel Prize in 1903."]
WORDS = [["i", "met", "Bob", "in", "Paris", "."]]
LABELS = {"classifier": ["negative", "neutral", "positive"], "qa": ["start", "end"], "tagger": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]}
TOL = 1e-4


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))


def checkpoint(base, task: str, out):
    """A random ``AutoModelFor<task>`` on ``base``'s config (weights far from uniform), saved with its tokenizer."""
    from transformers import (
        AutoConfig,
        AutoModelForQuestionAnswering,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    cls = {"classifier": AutoModelForSequenceClassification, "qa": AutoModelForQuestionAnswering, "tagger": AutoModelForTokenClassification}[task]
    labels = LABELS[task]
    config = AutoConfig.from_pretrained(base, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                        label2id={k: i for i, k in enumerate(labels)}, initializer_range=0.3)
    torch.manual_seed(1)
    model = cls.from_config(config).eval()
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return model, AutoTokenizer.from_pretrained(out)


def backends(fast: set[str]) -> list:
    cases = []
    for arch in ARCHS:
        cases.append(pytest.param(arch, "torch", id=f"{arch}-torch", marks=() if arch in fast else (pytest.mark.slow,)))
        cases.append(pytest.param(arch, "onnx", id=f"{arch}-onnx", marks=(pytest.mark.slow,)))
    return cases


@pytest.mark.parametrize(("arch", "backend"), backends(set(ARCHS)))
def test_sequence_classification_checkpoint(tiny_arch, tmp_path, arch, backend):
    import bertkit

    model, tok = checkpoint(tiny_arch(arch), "classifier", tmp_path / "clf")
    with torch.no_grad():
        want = torch.softmax(model(**tok(TEXTS, padding=True, return_tensors="pt")).logits, -1).numpy()
    got = bertkit.load_classifier(tmp_path / "clf", backend=backend, dtype="fp32").predict_proba(TEXTS)
    assert np.abs(got - want).max() <= TOL


@pytest.mark.parametrize(("arch", "backend"), backends({"deberta-v2", "modernbert", "albert"}))
def test_question_answering_checkpoint(tiny_arch, tmp_path, arch, backend):
    import bertkit

    model, tok = checkpoint(tiny_arch(arch), "qa", tmp_path / "qa")
    preds = bertkit.load_reader(tmp_path / "qa", backend=backend, dtype="fp32").predictions(QUESTIONS, CONTEXTS)
    for w, feature in enumerate(preds.features.windows.features):
        inputs = {k: torch.tensor([v]) for k, v in feature.items() if k in tok.model_input_names}
        with torch.no_grad():
            ref = model(**inputs)
        real = np.array(feature["attention_mask"], dtype=bool)
        assert np.abs(preds.start_logits[w][: len(real)][real] - ref.start_logits[0].numpy()[real]).max() <= TOL
        assert np.abs(preds.end_logits[w][: len(real)][real] - ref.end_logits[0].numpy()[real]).max() <= TOL


@pytest.mark.parametrize(("arch", "backend"), backends({"deberta-v2", "modernbert", "roberta"}))
def test_token_classification_checkpoint(tiny_arch, tmp_path, arch, backend):
    import bertkit

    model, tok = checkpoint(tiny_arch(arch), "tagger", tmp_path / "tag")
    tags, scores = bertkit.load_tagger(tmp_path / "tag", backend=backend, dtype="fp32").tag_words(WORDS)
    enc = tok(WORDS[0], is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        probs = torch.softmax(model(**enc).logits[0], -1).numpy()  # (T, C)
    first = [enc.word_ids().index(i) for i in range(len(WORDS[0]))]
    mine = np.asarray(scores[0])
    theirs = probs[first] if mine.ndim == 2 else probs[first].max(-1)
    assert np.abs(mine - theirs).max() <= TOL
    assert tags[0] == [LABELS["tagger"][i] for i in probs[first].argmax(-1)]
