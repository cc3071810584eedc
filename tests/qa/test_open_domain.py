"""Retrieve, then read (bertkit.qa.open_domain) with a duck-typed index and reranker."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bertkit.errors import ParameterError
from bertkit.qa.open_domain import answer_open
from bertkit.qa.reader import Reader

DOC = "Intro sentence about nothing. Marie Curie was born in Warsaw in 1867. She later moved to Paris."
OTHER = "The Amazon river flows through Brazil and ends in the Atlantic Ocean."


@dataclass(frozen=True)
class FakeHit:
    passage_id: str
    doc_id: str
    score: float
    text: str
    start: int
    end: int


class FakeIndex:
    """Two documents; the first one's second passage starts at a non-zero offset."""

    def __init__(self):
        cut = DOC.index("Marie")
        self.hits = [FakeHit("d2#0", "d2", 0.9, OTHER, 0, len(OTHER)), FakeHit("d1#1", "d1", 0.5, DOC[cut:], cut, len(DOC)),
                     FakeHit("d1#0", "d1", 0.4, DOC[:cut], 0, cut)]
        self.asked = []

    def search(self, queries, top_k=10, **kw):
        self.asked.append(top_k)
        return [self.hits[:top_k] for _ in queries]


@dataclass(frozen=True)
class FakeRank:
    index: int
    score: float


class ReverseRerank:
    def rank(self, query, documents, top_k=None):
        order = list(range(len(documents)))[::-1][:top_k]
        return [FakeRank(i, 1.0 - 0.1 * n) for n, i in enumerate(order)]


@pytest.fixture(scope="module")
def reader():
    return Reader.load(backend="torch", dtype="fp32")


def test_answer_span_is_in_the_original_document(reader):
    answer = answer_open(reader, ["Where was Marie Curie born?"], FakeIndex(), passages=3)[0]
    assert answer.text == "Warsaw" and answer.doc_id == "d1" and answer.passage_id == "d1#1"
    assert DOC[answer.start:answer.end] == "Warsaw"
    assert len(answer.passages) == 3 and answer.to_dict()["passages"][0]["passage_id"] == "d2#0"


def test_reranker_reorders_and_cuts_what_is_read(reader):
    index = FakeIndex()
    answer = reader.answer(["Where was Marie Curie born?"], index=index, rerank=ReverseRerank(), passages=2)[0]
    assert index.asked == [20]  # more candidates than passages when reranking
    assert [p.passage_id for p in answer.passages] == ["d1#0", "d1#1"]
    assert answer.passages[0].rerank_score == 1.0
    assert DOC[answer.start:answer.end] == "Warsaw"


def test_no_answer_when_no_passage_holds_one(reader):
    class Empty:
        def search(self, queries, top_k=10, **kw):
            return [[] for _ in queries]

    answer = answer_open(reader, ["Where was Marie Curie born?"], Empty())[0]
    assert answer.no_answer and answer.text is None and answer.start == -1 and answer.passages == []
    assert answer_open(reader, [], FakeIndex()) == []


def test_bad_arguments(reader):
    with pytest.raises(ParameterError) as exc:
        answer_open(reader, ["q"], FakeIndex(), passages=0)
    assert exc.value.param == "passages"
    with pytest.raises(ParameterError):
        reader.answer(["q"], ["a context"], index=FakeIndex())
