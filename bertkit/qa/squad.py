"""Read SQuAD 1.1 and 2.0 JSON into flat question records.

Every structural problem raises :class:`InputError` naming the file and the JSON path of
the bad element (``data[3].paragraphs[0].qas[5].answers[0].answer_start``). An answer
whose ``answer_start`` does not point at its ``text`` in the context is not fatal: it is
counted, left out of the training spans, and reported (its text still counts as a
reference answer for evaluation, as in the official scripts). SQuAD 2.0 is recognised by
the ``is_impossible`` field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bertkit.errors import InputError

__all__ = ["Answer", "SquadExample", "SquadData", "parse_squad", "read_squad"]


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset in the context

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class SquadExample:
    id: str
    question: str
    context: str
    answers: list[Answer]  # answers whose span matches the context (training targets)
    references: list[str]  # every reference answer text (evaluation)
    is_impossible: bool = False
    title: str = ""

    @property
    def trainable(self) -> bool:
        """Usable as a training example: unanswerable, or at least one aligned answer."""
        return self.is_impossible or bool(self.answers)


@dataclass
class SquadData:
    examples: list[SquadExample]
    version_2: bool  # has unanswerable questions (the ``is_impossible`` field)
    mismatched: int = 0  # answers whose answer_start does not match their text
    mismatched_at: list[str] = field(default_factory=list)  # JSON paths of the first few

    @property
    def untrainable(self) -> int:
        """Answerable questions left with no aligned answer (skipped for training)."""
        return sum(not e.trainable for e in self.examples)

    def summary(self) -> str:
        answerable = sum(not e.is_impossible for e in self.examples)
        text = f"{len(self.examples)} questions ({answerable} answerable, {len(self.examples) - answerable} unanswerable)"
        if self.mismatched:
            text += (
                f"; {self.mismatched} answer(s) whose answer_start does not match the text were skipped "
                f"(first at {self.mismatched_at[0]})"
            )
            if self.untrainable:
                text += f", leaving {self.untrainable} question(s) with no usable span"
        return text


def _expect(value: object, kind: type | tuple[type, ...], where: str, source: str) -> object:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        shown = json.dumps(value, ensure_ascii=False)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise InputError(f"{source}: {where}: expected {_article(name)}, got {shown}")
    return value


def _article(name: str) -> str:
    names = {"dict": "an object", "list": "a list", "str": "a string", "int": "an integer", "bool": "true or false"}
    return names.get(name, name)


def _field(obj: dict, key: str, kind: type, where: str, source: str) -> object:
    if key not in obj:
        raise InputError(f"{source}: {where}: missing field {key!r}")
    return _expect(obj[key], kind, f"{where}.{key}", source)


def parse_squad(obj: object, source: str = "<squad>") -> SquadData:
    """Flatten a loaded SQuAD JSON object into :class:`SquadData`."""
    _expect(obj, dict, "(top level)", source)
    data = _field(obj, "data", list, "(top level)", source)
    examples: list[SquadExample] = []
    seen: dict[str, str] = {}
    version_2 = False
    mismatched = 0
    mismatched_at: list[str] = []
    for a, article in enumerate(data):
        where_a = f"data[{a}]"
        _expect(article, dict, where_a, source)
        title = article.get("title", "")
        title = title if isinstance(title, str) else str(title)
        for p, para in enumerate(_field(article, "paragraphs", list, where_a, source)):
            where_p = f"{where_a}.paragraphs[{p}]"
            _expect(para, dict, where_p, source)
            context = _field(para, "context", str, where_p, source)
            if not context.strip():
                raise InputError(f"{source}: {where_p}.context: empty context")
            for q, qa in enumerate(_field(para, "qas", list, where_p, source)):
                where_q = f"{where_p}.qas[{q}]"
                _expect(qa, dict, where_q, source)
                qid = _field(qa, "id", (str, int), where_q, source)
                qid = str(qid)
                if qid in seen:
                    raise InputError(f"{source}: {where_q}.id: duplicate id {qid!r} (first at {seen[qid]})")
                seen[qid] = where_q
                question = _field(qa, "question", str, where_q, source)
                if not question.strip():
                    raise InputError(f"{source}: {where_q}.question: empty question")
                impossible = False
                if "is_impossible" in qa:
                    version_2 = True
                    impossible = bool(_expect(qa["is_impossible"], bool, f"{where_q}.is_impossible", source))
                raw_answers = _field(qa, "answers", list, where_q, source) if not impossible else qa.get("answers", [])
                if impossible:
                    _expect(raw_answers, list, f"{where_q}.answers", source)
                answers: list[Answer] = []
                references: list[str] = []
                for n, ans in enumerate(raw_answers):
                    where_n = f"{where_q}.answers[{n}]"
                    _expect(ans, dict, where_n, source)
                    text = _field(ans, "text", str, where_n, source)
                    start = _field(ans, "answer_start", int, where_n, source)
                    references.append(text)
                    if start < 0 or context[start : start + len(text)] != text or not text:
                        mismatched += 1
                        if len(mismatched_at) < 5:
                            mismatched_at.append(f"{where_n}.answer_start")
                        continue
                    answers.append(Answer(text, start))
                if not impossible and not references:
                    raise InputError(
                        f"{source}: {where_q}.answers: an answerable question needs at least one answer "
                        "(set \"is_impossible\": true for SQuAD 2.0 questions without one)"
                    )
                examples.append(SquadExample(qid, question, context, answers, references, impossible, title))
    if not examples:
        raise InputError(f"{source}: no questions found (data[*].paragraphs[*].qas is empty)")
    return SquadData(examples, version_2, mismatched, mismatched_at)


def read_squad(path: str | Path) -> SquadData:
    """Read and check a SQuAD JSON file (1.1 or 2.0)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a SQuAD JSON file")
    try:
        obj = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {exc.lineno}, column {exc.colno}: malformed JSON ({exc.msg})") from None
    return parse_squad(obj, str(path))
