"""Tiny SQuAD-format data sets built in the tests (no ../shared data)."""

from __future__ import annotations

import json
from pathlib import Path

CONTEXTS = [
    "Marie Curie was born in Warsaw in 1867. She won the Nobel Prize in Physics in 1903.",
    "The Amazon river flows through Brazil. It is about 6,400 km long and ends in the Atlantic Ocean.",
]

QAS = [
    # (context index, question, answer text or None for unanswerable)
    (0, "Where was Marie Curie born?", "Warsaw"),
    (0, "When did she win the Nobel Prize in Physics?", "1903"),
    (1, "Which country does the Amazon flow through?", "Brazil"),
    (1, "Where does the Amazon end?", "the Atlantic Ocean"),
    (1, "Who discovered the Amazon river?", None),
]


def squad_dict(version_2: bool = True, qas=QAS, contexts=CONTEXTS) -> dict:
    """A SQuAD object; with ``version_2`` unanswerable questions carry is_impossible."""
    paragraphs = []
    for c, context in enumerate(contexts):
        items = []
        for n, (ci, question, answer) in enumerate(qas):
            if ci != c or (answer is None and not version_2):
                continue
            qa = {"id": f"q{n}", "question": question, "answers": []}
            if answer is not None:
                qa["answers"] = [{"text": answer, "answer_start": context.index(answer)}]
            if version_2:
                qa["is_impossible"] = answer is None
            items.append(qa)
        paragraphs.append({"context": context, "qas": items})
    return {"version": "v2.0" if version_2 else "1.1", "data": [{"title": "Tiny", "paragraphs": paragraphs}]}


def write_squad(path: Path, obj: dict) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path
