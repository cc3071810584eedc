"""Tag schemes (BIO/IOB2 and BIOES) and entity spans.

Two ways to read entities from a tag sequence, as in ``seqeval``:

* ``conlleval`` (lenient, the CoNLL-2000 perl script's rules): an ``I-x`` after ``O``
  or after another type starts an entity; a type change ends one;
* ``strict``: only well-formed chunks count (IOB2: ``B-x I-x*``; BIOES: ``S-x`` or
  ``B-x I-x* E-x``); stray ``I-``/``E-`` tags form no entity.
"""

from __future__ import annotations

from collections.abc import Sequence

from bertkit.errors import UsageError

__all__ = ["SCHEMES", "SPAN_MODES", "check_tag", "detect_scheme", "entity_spans"]

SCHEMES = ("BIO", "BIOES")
SPAN_MODES = ("conlleval", "strict")
PREFIXES = ("B", "I", "E", "S")


def check_tag(tag: str) -> str | None:
    """A problem with ``tag`` as one line, or None when it is O or PREFIX-TYPE."""
    if tag == "O":
        return None
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in PREFIXES or not kind:
        return f"tag {tag!r} is outside the BIO/BIOES schemes: expected O or B-/I-/E-/S- followed by an entity type"
    return None


def detect_scheme(tags: Sequence[Sequence[str]]) -> str:
    """BIOES when any E- or S- tag occurs, else BIO."""
    return "BIOES" if any(t[:2] in ("E-", "S-") for sent in tags for t in sent) else "BIO"


def _parts(tag: str) -> tuple[str, str]:
    return ("O", "") if tag == "O" else (tag[0], tag[2:])


def _lenient(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    spans = []
    prev_p, prev_t, begin = "O", "", None
    for i, tag in enumerate(list(tags) + ["O"]):
        p, t = _parts(tag)
        ends = prev_p in ("E", "S") or (prev_p in ("B", "I") and p in ("B", "S", "O")) or (prev_p != "O" and prev_t != t)
        starts = p in ("B", "S") or (prev_p in ("E", "S", "O") and p in ("E", "I")) or (p != "O" and prev_t != t)
        if ends and begin is not None:
            spans.append((prev_t, begin, i))
            begin = None
        if starts:
            begin = i
        prev_p, prev_t = p, t
    return spans


def _strict(tags: Sequence[str], scheme: str) -> list[tuple[str, int, int]]:
    spans = []
    i, n = 0, len(tags)
    while i < n:
        p, t = _parts(tags[i])
        if scheme == "BIOES" and p == "S":
            spans.append((t, i, i + 1))
            i += 1
            continue
        if p != "B":
            i += 1
            continue
        j = i + 1
        while j < n and _parts(tags[j]) == ("I", t):
            j += 1
        if scheme == "BIO":
            spans.append((t, i, j))
            i = j
        elif j < n and _parts(tags[j]) == ("E", t):
            spans.append((t, i, j + 1))
            i = j + 1
        else:
            i = j
    return spans


def entity_spans(tags: Sequence[str], mode: str = "conlleval", scheme: str = "BIO") -> list[tuple[str, int, int]]:
    """(type, start word, end word exclusive) of each entity in one sentence."""
    if mode not in SPAN_MODES:
        raise UsageError(f"unknown evaluation mode {mode!r}; valid options: {', '.join(SPAN_MODES)}")
    return _lenient(tags) if mode == "conlleval" else _strict(tags, scheme)
