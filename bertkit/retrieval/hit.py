"""One search result: a passage of a document, its score and where it sits in the document."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Hit"]


@dataclass(frozen=True)
class Hit:
    """A passage found by :meth:`bertkit.Index.search`.

    ``passage_id`` is ``"<doc_id>#<k>"`` for the k-th passage (from 0) of document
    ``doc_id``; ``text == document_text[start:end]`` (character offsets into the text the
    document was indexed with: for a BEIR corpus, ``title + " " + text``). ``score`` is the
    cosine similarity (dense search) or the reciprocal-rank-fusion score (``hybrid=True``).
    """

    passage_id: str
    doc_id: str
    score: float
    text: str
    start: int
    end: int
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "passage_id": self.passage_id,
            "doc_id": self.doc_id,
            "score": float(self.score),
            "text": self.text,
            "start": int(self.start),
            "end": int(self.end),
            "metadata": dict(self.metadata),
        }
