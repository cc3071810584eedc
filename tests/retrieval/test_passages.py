"""Passage splitting: token windows with overlap whose character spans cut the document at token edges."""

from __future__ import annotations

import pytest

from bertkit.errors import ParameterError
from bertkit.retrieval.passages import PassageSplitter


@pytest.fixture(scope="module")
def encoder(tiny_encoder):
    return tiny_encoder


def _tokens(splitter, text):
    return splitter._tokenizer.encode(text, add_special_tokens=False)


def test_windows_overlap_and_cover_the_document(encoder):
    text = " ".join(f"word{i} and more text here." for i in range(60))
    splitter = PassageSplitter(encoder, tokens=20, overlap=5)
    passages = splitter.split([text])
    assert len(passages) > 3 and [p.number for p in passages] == list(range(len(passages)))
    assert passages[0].start == 0 and passages[-1].end == len(text.rstrip())
    offsets = [o for o in _tokens(splitter, text).offsets if o[1] > o[0]]
    for p in passages:
        inside = [o for o in offsets if p.start <= o[0] and o[1] <= p.end]
        assert len(inside) <= 20
    for a, b in zip(passages, passages[1:]):
        shared = [o for o in offsets if b.start <= o[0] and o[1] <= a.end]
        assert len(shared) == 5  # the overlap, in tokens


def test_a_short_document_is_one_passage_spanning_it(encoder):
    passages = PassageSplitter(encoder, tokens=20, overlap=5).split(["  short text  ", ""])
    assert [(p.doc_index, p.start, p.end) for p in passages] == [(0, 0, 14), (1, 0, 0)]


def test_the_default_is_what_the_encoder_reads(encoder):
    assert PassageSplitter(encoder).tokens == encoder.max_length - 2


def test_bad_settings(encoder):
    with pytest.raises(ParameterError, match="passage_tokens 9999 out of range"):
        PassageSplitter(encoder, tokens=9999)
    with pytest.raises(ParameterError, match="passage_overlap 20 must be in 0..19"):
        PassageSplitter(encoder, tokens=20, overlap=20)
