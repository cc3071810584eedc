"""Pairs files and SQuAD-mined pairs: rows, groups, and one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bertkit.errors import BertkitError, InputError
from bertkit.rerank.data import read_pairs, split_articles, squad_paragraphs, squad_pairs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qa"))
from qa_tiny_squad import squad_dict  # noqa: E402


def test_read_pairs(pairs_file):
    pairs = read_pairs(pairs_file)
    assert len(pairs) == 12 and sum(pairs.labels) == 3
    assert [len(rows) for rows in pairs.groups().values()] == [4, 4, 4]


def test_tsv_and_bad_rows(tmp_path):
    good = tmp_path / "p.tsv"
    good.write_text("query\tpassage\tlabel\nq\tp\t1\nq\tr\t0\n", encoding="utf-8")
    assert read_pairs(good).labels == [1.0, 0.0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "passage": "p", "label": 1}\n{"query": "q", "passage": "p", "label": "yes"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl, line 2: field 'label' must be a number"):
        read_pairs(bad)
    missing = tmp_path / "m.jsonl"
    missing.write_text('{"query": "q", "text": "p", "label": 1}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 1: missing field 'passage'"):
        read_pairs(missing)
    with pytest.raises(InputError, match="no such file"):
        read_pairs(tmp_path / "nope.jsonl")


def test_squad_pairs(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(squad_dict(version_2=True)), encoding="utf-8")
    paragraphs, titles, questions = squad_paragraphs([path])
    assert len(paragraphs) == 2 and len(questions) == 4  # the unanswerable question is left out
    pairs = squad_pairs([path], negatives=3, miners=("bm25", "article"))
    for rows in pairs.groups().values():
        labels = [pairs.labels[i] for i in rows]
        assert labels[0] == 1.0 and labels[1:] == [0.0] * (len(rows) - 1)
        assert pairs.passages[rows[0]] not in [pairs.passages[i] for i in rows[1:]]  # negatives are other paragraphs
    with pytest.raises(BertkitError, match="valid"):
        squad_pairs([path], miners=("magic",))


def test_split_articles_keeps_some_for_training():
    titles = ["a", "a", "b", "c"]
    train, dev = split_articles(titles, [], 1, seed=0)
    assert len(dev) == 1 and train | dev == {"a", "b", "c"} and not train & dev
    with pytest.raises(BertkitError, match="dev_articles"):
        split_articles(titles, [], 3, seed=0)
