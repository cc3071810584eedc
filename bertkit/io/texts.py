"""Texts a model can read: strings of valid Unicode, checked at every entry.

A lone surrogate (``"\\ud800"``: a JSON ``\\ud800`` escape without its pair, or bytes
that are not UTF-8 reaching Python through ``surrogateescape``, as in ``sys.argv``) is
not text: the tokenizer would fail on it with a raw ``TypeError``. bertkit refuses such
a text with one :class:`~bertkit.errors.InputError` naming its row and position, rather
than replacing the character silently.
"""

from __future__ import annotations

from collections.abc import Sequence

from bertkit.errors import InputError, UsageError

__all__ = ["check_texts", "check_text", "invalid_character"]


def invalid_character(text: str) -> int | None:
    """The index of the first lone surrogate in ``text``, or None when it is valid Unicode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _refusal(what: str, text: str, pos: int) -> InputError:
    return InputError(
        f"{what} has an invalid character U+{ord(text[pos]):04X} at position {pos} (a lone surrogate: not valid "
        "Unicode, e.g. an unpaired \\ud800 escape or bytes that are not UTF-8); fix the input's encoding"
    )


def check_text(text: str, what: str = "text") -> str:
    """``text``, or one InputError naming ``what`` when it holds a lone surrogate."""
    pos = invalid_character(text)
    if pos is not None:
        raise _refusal(what, text, pos)
    return text


def check_texts(texts: Sequence[str] | str, *, start: int = 0, what: str = "text") -> list[str]:
    """``texts`` as a list (one string is one text), each a valid string.

    A non-string raises UsageError, a lone surrogate InputError, naming the row as
    ``{what} {start + i}``. One pass over all the texts at once (a failure is then located).
    """
    texts = [texts] if isinstance(texts, str) else list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise UsageError(f"{what} {start + i} is {type(t).__name__}, expected str")
    if invalid_character("".join(texts)) is not None:
        for i, t in enumerate(texts):
            check_text(t, f"{what} {start + i}")
    return texts
