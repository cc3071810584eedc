"""Entity P/R/F1 against seqeval on generated tag sequences (lenient and strict)."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, IOBES

from bertkit.tagging.metrics import entity_report
from bertkit.tagging.schemes import entity_spans

TYPES = ["PER", "LOC", "ORG"]


def _sequences(seed: int, prefixes: str, n: int = 60):
    rng = random.Random(seed)
    tags = ["O"] + [f"{p}-{t}" for p in prefixes for t in TYPES]
    return [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(n)]


def _noisy(seqs, seed):
    rng = random.Random(seed)
    out = []
    for s in seqs:
        out.append([t if rng.random() < 0.7 else rng.choice(["O", "B-PER", "I-PER", "I-LOC", "E-ORG", "S-LOC"]) for t in s])
    return out


@pytest.mark.parametrize("seed", range(5))
def test_conlleval_mode_matches_seqeval_default(seed):
    true = _sequences(seed, "BI")
    pred = _noisy(true, seed + 100)
    pred = [[t if t[:2] not in ("E-", "S-") else "O" for t in s] for s in pred]
    ours = entity_report(true, pred)
    assert ours["micro"]["precision"] == pytest.approx(precision_score(true, pred))
    assert ours["micro"]["recall"] == pytest.approx(recall_score(true, pred))
    assert ours["micro"]["f1"] == pytest.approx(f1_score(true, pred))
    theirs = classification_report(true, pred, output_dict=True)
    for kind, m in ours["per_type"].items():
        if m["support"]:
            assert m["f1"] == pytest.approx(theirs[kind]["f1-score"])
            assert m["support"] == theirs[kind]["support"]


@pytest.mark.parametrize("seed", range(5))
def test_strict_iob2_matches_seqeval_strict(seed):
    true = _sequences(seed, "BI")
    pred = [[t if t[:2] not in ("E-", "S-") else "O" for t in s] for s in _noisy(true, seed + 7)]
    ours = entity_report(true, pred, mode="strict", scheme="BIO")
    assert ours["micro"]["f1"] == pytest.approx(f1_score(true, pred, mode="strict", scheme=IOB2))
    assert ours["micro"]["precision"] == pytest.approx(precision_score(true, pred, mode="strict", scheme=IOB2))


@pytest.mark.parametrize("seed", range(5))
def test_bioes_both_modes_match_seqeval(seed):
    true = _sequences(seed, "BIES")
    pred = _noisy(true, seed + 3)
    assert entity_report(true, pred)["micro"]["f1"] == pytest.approx(f1_score(true, pred))
    strict = entity_report(true, pred, mode="strict", scheme="BIOES")["micro"]["f1"]
    assert strict == pytest.approx(f1_score(true, pred, mode="strict", scheme=IOBES))


def test_spans_examples():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-ORG", "I-PER"]
    assert entity_spans(tags) == [("PER", 0, 2), ("LOC", 3, 5), ("ORG", 5, 6), ("PER", 6, 7)]
    assert entity_spans(tags, "strict") == [("PER", 0, 2), ("ORG", 5, 6)]
