"""CoNLL-style token files: ``token<TAB>tag`` or ``token tag`` per line (other columns
between them ignored: the token is the first column, the tag the last), a blank line
between sentences, ``-DOCSTART-`` lines skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bertkit.errors import InputError
from bertkit.tagging.schemes import check_tag

__all__ = ["TagData", "read_conll"]


@dataclass
class TagData:
    words: list[list[str]]
    tags: list[list[str]]
    source: str = "<memory>"
    lines: list[int] = field(default_factory=list)  # first line of each sentence (1-based)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def num_words(self) -> int:
        return sum(len(w) for w in self.words)

    def labels(self) -> list[str]:
        """Every tag seen, O first, then sorted."""
        seen = {t for sent in self.tags for t in sent}
        return ["O"] * ("O" in seen) + sorted(seen - {"O"})

    def tag_line(self, sentence: int, word: int) -> int:
        return self.lines[sentence] + word if self.lines else 0


def _split(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def read_conll(path: str | os.PathLike) -> TagData:
    """Read a CoNLL file; any problem raises one line naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    data = TagData([], [], str(path), [])
    words: list[str] = []
    tags: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if words:
                data.words.append(words)
                data.tags.append(tags)
                data.lines.append(start)
                words, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        columns = [c.strip() for c in _split(line)]
        if len(columns) < 2 or not columns[0] or not columns[-1]:
            raise InputError(f"{path}, line {number}: expected 'token<TAB>tag' (2 or more columns), got {len(columns)}: {line[:60]!r}")
        tag = columns[-1]
        problem = check_tag(tag)
        if problem:
            raise InputError(f"{path}, line {number}: {problem}")
        if not words:
            start = number
        words.append(columns[0])
        tags.append(tag)
    if words:
        data.words.append(words)
        data.tags.append(tags)
        data.lines.append(start)
    if not data.words:
        raise InputError(f"{path}: no sentences (the file is empty or holds only -DOCSTART- lines)")
    return data
