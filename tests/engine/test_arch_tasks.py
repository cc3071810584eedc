"""Every architecture through classification, QA and tagging: trained a couple of steps with
the CLI, then predicted with the library on torch and on ONNX, which must agree (1e-4).

The encoders themselves are held to transformers' forward in test_arch_embeddings.py; here
each task's own graph (heads, span logits, layer states) is exported per architecture. The
default suite trains a classifier on the architectures unlike BERT in their inputs or
attention (DistilBERT, DeBERTa-v2, ModernBERT) and a reader and a tagger on DeBERTa-v2 and
ModernBERT; the rest run with ``-m slow`` (transformers checkpoints of every architecture
are checked in the default suite by test_arch_checkpoints.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_archs import ARCHS

from bertkit.cli.app import main

TESTS = Path(__file__).resolve().parents[1]
for sub in ("classification", "qa", "tagging"):
    sys.path.insert(0, str(TESTS / sub))
from qa_tiny_squad import squad_dict, write_squad
from tiny_conll import sentences, write_conll
from tiny_data import sentiment_rows, write_rows

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {"distilbert", "deberta-v2", "modernbert"}  # classification in the default suite
FAST_SPANS = {"deberta-v2", "modernbert"}  # QA and tagging in the default suite (SentencePiece offsets, rotary, no token types)
TOL = 1e-4


def cases(fast: set[str]) -> list:
    return [pytest.param(a, id=a, marks=() if a in fast else (pytest.mark.slow,)) for a in ARCHS]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("arch-tasks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BERTKIT_CACHE", str(root / "cache"))
        yield {
            "root": root,
            "classify": write_rows(root / "train.csv", sentiment_rows(8)),
            "squad": write_squad(root / "squad.json", squad_dict(version_2=True)),
            "conll": write_conll(root / "train.conll", sentences(8, seed=1)),
        }


def train(argv: list) -> None:
    assert main([str(a) for a in argv]) == 0


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("arch", cases(FAST))
def test_classifier(tiny_arch, data, arch):
    import bertkit

    out = data["root"] / f"classifier-{arch}"
    train(["classify", "train", "--train", data["classify"], "--dev", data["classify"], "--out", out, "--base", tiny_arch(arch),
           "--epochs", "1", "--batch-size", "4", "--lr", "1e-3", "--patience", "0"])  # two steps
    texts = ["a great film", "dull and boring", ""]
    on_torch = bertkit.load_classifier(out, backend="torch", dtype="fp32")
    probs = on_torch.predict_proba(texts)  # (N, C)
    assert probs.shape == (3, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    if arch in FAST:  # the fused architectures' ONNX classifiers: test_classifier_onnx (slow)
        on_onnx = bertkit.load_classifier(out, backend="onnx", dtype="fp32")
        assert on_onnx.runtime.backend == "onnx"
        assert np.abs(on_onnx.predict_proba(texts) - probs).max() <= TOL


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(set(ARCHS) - FAST))
def test_classifier_onnx(tiny_arch, data, arch):
    import bertkit

    out = data["root"] / f"classifier-{arch}"
    if not out.exists():
        test_classifier(tiny_arch, data, arch)
    texts = ["a great film", "dull and boring", ""]
    probs = bertkit.load_classifier(out, backend="torch", dtype="fp32").predict_proba(texts)
    assert np.abs(bertkit.load_classifier(out, backend="onnx", dtype="fp32").predict_proba(texts) - probs).max() <= TOL


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("arch", cases(FAST_SPANS))
def test_reader(tiny_arch, data, arch):
    import bertkit

    out = data["root"] / f"reader-{arch}"
    train(["qa", "train", "--train", data["squad"], "--out", out, "--model", tiny_arch(arch), "--max-length", "48",
           "--doc-stride", "16", "--max-question-length", "16", "--epochs", "1", "--batch-size", "4", "--threads", "1"])
    questions = ["Where was Marie Curie born?", "Where does the Amazon end?"]
    contexts = ["Marie Curie was born in Warsaw in 1867.", "The Amazon river flows through Brazil and ends in the Atlantic Ocean."]
    got = {}
    for backend in ("torch", "onnx"):
        reader = bertkit.load_reader(out, backend=backend, dtype="fp32")
        assert reader.runtime.backend == backend
        got[backend] = reader.answer(questions, contexts, top_k=3)
    for t, o, context in zip(got["torch"], got["onnx"], contexts):
        assert [(c.start, c.end) for c in t.candidates] == [(c.start, c.end) for c in o.candidates]
        assert abs(t.score - o.score) <= TOL and abs(t.null_score - o.null_score) <= TOL
        assert t.no_answer == o.no_answer
        for c in t.candidates:  # spans are the context's own characters, never a leading space
            assert c.text == context[c.start:c.end] and c.text == c.text.strip()


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("arch", cases(FAST_SPANS))
def test_tagger(tiny_arch, data, arch):
    import bertkit

    out = data["root"] / f"tagger-{arch}"
    train(["tag", "train", "--train", data["conll"], "--out", out, "--base", tiny_arch(arch), "--max-length", "32",
           "--epochs", "1", "--lstm-hidden", "8", "--device", "cpu"])
    words = [["i", "met", "bob", "in", "paris", "."], ["carol", "smith", "lives", "in", "rome"]]
    text = "i met  bob in new york ."
    got = {}
    for backend in ("torch", "onnx"):
        tagger = bertkit.load_tagger(out, backend=backend, dtype="fp32")
        assert tagger.runtime.backend == backend
        got[backend] = (tagger.tag_words(words), tagger.predict([text])[0])
    (tags_t, scores_t), entities_t = got["torch"]
    (tags_o, scores_o), entities_o = got["onnx"]
    assert tags_t == tags_o and all(np.abs(a - b).max() <= TOL for a, b in zip(scores_t, scores_o))
    assert [(e.type, e.start, e.end) for e in entities_t] == [(e.type, e.start, e.end) for e in entities_o]
    for e in entities_t:  # spans never take the space before a word (SentencePiece and byte-level offsets do)
        assert e.text == text[e.start:e.end] and e.text == e.text.strip()
