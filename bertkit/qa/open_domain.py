"""Retrieve, then read: answer questions over a whole collection instead of a given context.

For each question: the index's top passages (``index.search``), optionally reordered by a
reranker (``rerank.rank``) and cut to ``passages``; the reader reads each of them; the
answer is the best span over all of them, with the passage it came from, its document and
its character span in the ORIGINAL document (the passage's ``start`` plus the span's
offset in the passage). No answer when no passage holds one (a SQuAD 2.0 reader's null
score wins in every passage).

The score compared across passages is the span's ``start + end`` logit, which the reader
does not normalise per passage (its softmax probability is per passage, and would make a
weak span in a passage without competitors look certain).

The index and the reranker are taken duck-typed (objects with ``.search(queries, top_k)``
returning, per query, hits with ``passage_id``, ``doc_id``, ``score``, ``text``, ``start``;
and ``.rank(query, documents, top_k)`` returning results with ``index`` and ``score``), so
this layer needs neither :mod:`bertkit.retrieval` nor :mod:`bertkit.rerank`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from bertkit.errors import ParameterError

__all__ = ["PassageAnswer", "OpenAnswer", "answer_open", "evaluate_open"]


@dataclass(frozen=True)
class PassageAnswer:
    """One retrieved passage and what the reader found in it."""

    passage_id: str
    doc_id: str
    text: str  # the passage
    retrieval_score: float
    rerank_score: float | None
    answer: str | None  # None: no answer in this passage
    start: int  # character span of the answer in the passage (-1 when none)
    end: int
    score: float  # the span's start + end logit (the null score when there is no answer)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OpenAnswer:
    """A question's answer over the collection; ``text`` None means no passage holds one."""

    question: str
    text: str | None
    passage_id: str | None
    doc_id: str | None
    start: int  # character span in the original document (-1 when no answer)
    end: int
    score: float
    no_answer: bool
    passages: list[PassageAnswer] = field(default_factory=list)  # in reading order (reranked when a reranker is given)

    def to_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "passages"}, "passages": [p.to_dict() for p in self.passages]}


def _retrieve(questions: list[str], index, rerank, passages: int, candidates: int) -> list[list[tuple[object, float | None]]]:
    """Per question, (hit, rerank score or None) for the passages to read, in reading order."""
    hits = index.search(questions, top_k=candidates if rerank is not None else passages)
    out = []
    for question, found in zip(questions, hits):
        found = list(found)
        if rerank is None or not found:
            out.append([(h, None) for h in found[:passages]])
            continue
        ranked = rerank.rank(question, [h.text for h in found], top_k=passages)
        out.append([(found[r.index], float(r.score)) for r in ranked])
    return out


def answer_open(reader, questions: Sequence[str], index, *, rerank=None, passages: int = 5, candidates: int | None = None,
                null_threshold: float | None = None, batch_size: int = 32) -> list[OpenAnswer]:
    """One :class:`OpenAnswer` per question: retrieve ``candidates`` passages (default
    ``max(4 * passages, 20)`` with a reranker), rerank, read the best ``passages``."""
    if isinstance(questions, str):
        raise ParameterError("questions", "questions must be a list of strings, not one string")
    if passages < 1:
        raise ParameterError("passages", f"passages must be >= 1, got {passages}")
    questions = list(questions)
    if not questions:
        return []
    candidates = candidates if candidates is not None else max(4 * passages, 20)
    if candidates < passages:
        raise ParameterError("candidates", f"candidates ({candidates}) must be >= passages ({passages})")
    chosen = _retrieve(questions, index, rerank, passages, candidates)
    flat_q = [q for q, hits in zip(questions, chosen) for _ in hits]
    flat_c = [h.text for hits in chosen for h, _ in hits]
    read = reader.answer(flat_q, flat_c, null_threshold=null_threshold, batch_size=batch_size) if flat_q else []
    results, k = [], 0
    for question, hits in zip(questions, chosen):
        per = [_passage_answer(h, s, read[k + i]) for i, (h, s) in enumerate(hits)]
        k += len(hits)
        results.append(_best(question, hits, per))
    return results


def _passage_answer(hit, rerank_score: float | None, answer) -> PassageAnswer:
    return PassageAnswer(str(hit.passage_id), str(hit.doc_id), hit.text, float(hit.score), rerank_score, answer.text,
                         answer.start, answer.end, float(answer.score))


def _best(question: str, hits, per: list[PassageAnswer]) -> OpenAnswer:
    found = [(p, h) for p, (h, _) in zip(per, hits) if p.answer is not None]
    if not found:
        return OpenAnswer(question, None, None, None, -1, -1, max((p.score for p in per), default=0.0), True, per)
    best, hit = max(found, key=lambda ph: ph[0].score)  # first of equals: reading order
    offset = int(hit.start)
    return OpenAnswer(question, best.answer, best.passage_id, best.doc_id, offset + best.start, offset + best.end, best.score, False, per)


def evaluate_open(reader, data, index, *, rerank=None, passages: int = 5, candidates: int | None = None,
                  null_threshold: float | None = None, batch_size: int = 32) -> dict:
    """Open-domain EM/F1 (the official SQuAD v1.1 metric) of ``data``'s questions asked of
    ``index``, and how often a passage of the question's own paragraph was read."""
    from bertkit.qa.metric import squad_v1

    examples = [ex for ex in data.examples if not ex.is_impossible]
    answers = answer_open(reader, [ex.question for ex in examples], index, rerank=rerank, passages=passages, candidates=candidates,
                          null_threshold=null_threshold, batch_size=batch_size)
    predictions = {ex.id: a.text or "" for ex, a in zip(examples, answers)}
    references = {ex.id: list(ex.references) for ex in examples}
    metrics = dict(squad_v1(references, predictions))
    read_own = sum(any(p.text in ex.context or ex.context in p.text for p in a.passages) for ex, a in zip(examples, answers))
    metrics.update(questions=len(examples), passages=passages, own_paragraph_read=100.0 * read_own / max(1, len(examples)),
                   no_answer=100.0 * sum(a.no_answer for a in answers) / max(1, len(examples)))
    return metrics
