"""Labelled data for classification: reading, label maps, stratified dev splits.

Rows come from CSV/TSV (header row) or JSONL through the foundation's readers, so
every error names the file and line. Labels are strings (integers are read as their
text); the label map orders them numerically when all are integers, else by text.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bertkit.errors import BertkitWarning, InputError, ParameterError, UsageError
from bertkit.io.readers import detect_format, iter_records

__all__ = [
    "Examples", "LabelMap", "read_examples", "read_texts_for_prediction", "stratified_split", "check_trainable", "check_known_labels",
]


@dataclass
class Examples:
    """Texts (and optional second texts) with their labels; ``source`` names the origin for messages."""

    texts: list[str]
    labels: list[str]
    pairs: list[str] | None = None
    lines: list[int] = field(default_factory=list)
    source: str = "data"

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: Sequence[int], source: str | None = None) -> Examples:
        idx = list(idx)
        return Examples(
            [self.texts[i] for i in idx],
            [self.labels[i] for i in idx],
            [self.pairs[i] for i in idx] if self.pairs is not None else None,
            [self.lines[i] for i in idx] if self.lines else [],
            source or self.source,
        )

    def content_hash(self) -> str:
        """sha256 of the texts and pairs (labels excluded: features do not depend on them)."""
        h = hashlib.sha256()
        h.update(json.dumps([self.texts, self.pairs], ensure_ascii=False).encode("utf-8"))
        return h.hexdigest()


@dataclass(frozen=True)
class LabelMap:
    labels: tuple[str, ...]

    @classmethod
    def from_labels(cls, labels: Sequence[str]) -> LabelMap:
        unique = set(labels)
        try:
            ordered = sorted(unique, key=lambda s: (int(s), s))
        except ValueError:
            ordered = sorted(unique)
        return cls(tuple(ordered))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, labels: Sequence[str]) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        return np.asarray([index[label] for label in labels], dtype=np.int64)


def read_examples(
    path: str,
    *,
    text_column: str = "text",
    label_column: str | None = "label",
    pair_column: str | None = None,
) -> Examples:
    """Read a labelled file (``label_column=None``: texts only, labels left empty)."""
    fmt = detect_format(path)
    if fmt == ".txt" and (label_column or pair_column):
        raise UsageError(f"{path}: labelled data needs a .csv, .tsv or .jsonl file with a header, not .txt")
    columns = [text_column] + [c for c in (pair_column, label_column) if c]
    if len(set(columns)) != len(columns):
        raise UsageError(f"the text, pair and label columns must differ, got {', '.join(columns)}")
    texts, labels, pairs, lines = [], [], [], []
    for record in iter_records(path, columns):
        line = record["_line"]
        text = record[text_column]
        if not text.strip():
            raise InputError(f"{path}, line {line}: empty text in column {text_column!r}")
        if pair_column:
            if not record[pair_column].strip():
                raise InputError(f"{path}, line {line}: empty text in column {pair_column!r}")
            pairs.append(record[pair_column])
        if label_column:
            label = record[label_column].strip()
            if not label:
                raise InputError(f"{path}, line {line}: empty label in column {label_column!r}")
            labels.append(label)
        texts.append(text)
        lines.append(line)
    if not texts:
        raise InputError(f"{path}: no rows found (empty data)")
    return Examples(texts, labels, pairs if pair_column else None, lines, path)


def read_texts_for_prediction(path: str, text_column: str = "text", pair_column: str | None = None) -> Examples:
    """Unlabelled texts for prediction; a .txt file (or ``-``) holds one text per line."""
    if detect_format(path) == ".txt":
        if pair_column:
            raise UsageError(f"{path}: sentence pairs need a .csv, .tsv or .jsonl file, not .txt")
        texts, lines = [], []
        for record in iter_records(path, [text_column]):
            if not record[text_column].strip():
                raise InputError(f"{path if path != '-' else 'stdin'}, line {record['_line']}: empty text")
            texts.append(record[text_column])
            lines.append(record["_line"])
        if not texts:
            raise InputError(f"{path if path != '-' else 'stdin'}: no texts found (empty input)")
        return Examples(texts, [], None, lines, path)
    return read_examples(path, text_column=text_column, label_column=None, pair_column=pair_column)


def stratified_split(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """(train, dev): ``fraction`` of each class goes to dev (at least one per class with 2+ rows)."""
    if not 0 < fraction < 1:
        raise ParameterError("dev_split", f"dev_split must be between 0 and 1 (exclusive), got {fraction}")
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(examples.labels):
        by_label.setdefault(label, []).append(i)
    dev_idx: list[int] = []
    raised: list[str] = []  # labels given more than their share (one dev row at least)
    for label in sorted(by_label):
        idx = np.asarray(by_label[label])
        rng.shuffle(idx)
        share = int(round(len(idx) * fraction))
        take = min(max(share, 1 if len(idx) >= 2 else 0), len(idx) - 1)
        if take > share:
            raised.append(label)
        dev_idx.extend(idx[:take].tolist())
    if not dev_idx:
        raise ParameterError("dev_split", f"{examples.source}: too few rows for dev_split {fraction}; pass dev (a file)", "dev")
    _check_split_fraction(examples, fraction, len(dev_idx), raised, by_label)
    dev_set = set(dev_idx)
    train_idx = [i for i in range(len(examples)) if i not in dev_set]
    return examples.subset(train_idx), examples.subset(sorted(dev_idx), source=f"{examples.source} (dev split)")


def _check_split_fraction(examples: Examples, fraction: float, dev_rows: int, raised: list[str], by_label: dict) -> None:
    """Refuse a stratified split that cannot honour ``fraction`` (every label needs a dev row:
    with many labels of few rows it would hold far more); warn when it is only somewhat off."""
    actual = dev_rows / len(examples)
    if not raised:
        return
    names = ", ".join(repr(x) for x in raised[:5]) + (f" and {len(raised) - 5} more" if len(raised) > 5 else "")
    detail = (f"{examples.source}: dev_split {fraction} cannot be honoured: {len(raised)} of {len(by_label)} labels have too few rows "
              f"for that fraction ({names}) and each keeps one dev row, so dev would hold {actual:.0%} of the rows")
    if actual > max(2 * fraction, fraction + 0.05):
        raise ParameterError("dev_split", f"{detail}; pass dev (a file) or a larger dev_split", "dev")
    if actual > fraction * 1.2:
        warnings.warn(f"{detail} instead of {fraction:.0%}", BertkitWarning, stacklevel=3)


def check_trainable(examples: Examples) -> LabelMap:
    """The label map of training data; at least two classes are required."""
    counts = Counter(examples.labels)
    if len(counts) < 2:
        only = next(iter(counts)) if counts else "(none)"
        raise InputError(f"{examples.source}: every row has label {only!r}; classification needs at least two classes")
    return LabelMap.from_labels(examples.labels)


def check_known_labels(examples: Examples, label_map: LabelMap) -> None:
    """Refuse data with a label the model was never trained on (its score would be undefined)."""
    known = set(label_map.labels)
    for i, label in enumerate(examples.labels):
        if label not in known:
            where = f", line {examples.lines[i]}" if examples.lines else ""
            raise InputError(
                f"{examples.source}{where}: label {label!r} was not seen in training; "
                f"the model knows only: {', '.join(label_map.labels)}"
            )
