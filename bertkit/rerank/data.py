"""Reranking data: (query, passage, label) rows from files, or built from SQuAD JSON.

A pairs file is ``.jsonl``, ``.tsv`` or ``.csv`` with ``query``, ``passage`` and ``label``
columns (label a number: 1 relevant, 0 not; graded labels > 1 count as relevant and as
gains in nDCG). Rows with the same query form that query's candidate list.

From SQuAD JSON (:func:`squad_pairs`): each question's own paragraph is its positive;
negatives are mined among the file's other paragraphs: the top BM25 hits of the question
that are not its paragraph (``bm25s``), optionally the dense retriever's top wrong hits
(``dense``: the packaged MiniLM embeddings, as ``bertkit search`` would find them), and
random other paragraphs of the same article.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertkit.errors import InputError, ParameterError, choice_error
from bertkit.io.readers import iter_records

__all__ = ["Pairs", "MINERS", "read_pairs", "squad_paragraphs", "squad_pairs", "split_articles"]

MINERS = ("bm25", "dense", "article")


@dataclass
class Pairs:
    """Parallel lists of queries, passages and labels (plus each row's line, when read from a file)."""

    queries: list[str] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)
    labels: list[float] = field(default_factory=list)
    source: str = "<pairs>"

    def __len__(self) -> int:
        return len(self.queries)

    def add(self, query: str, passage: str, label: float) -> None:
        self.queries.append(query)
        self.passages.append(passage)
        self.labels.append(float(label))

    def groups(self) -> dict[str, list[int]]:
        """Row indices per query, in first-seen order."""
        out: dict[str, list[int]] = {}
        for i, q in enumerate(self.queries):
            out.setdefault(q, []).append(i)
        return out

    def subset(self, idx: Sequence[int]) -> "Pairs":
        return Pairs([self.queries[i] for i in idx], [self.passages[i] for i in idx], [self.labels[i] for i in idx], self.source)


def read_pairs(path: str | Path, *, query_column: str = "query", passage_column: str = "passage", label_column: str = "label") -> Pairs:
    """Every row of a pairs file; a bad row names the file, the line and the field."""
    path = str(path)
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    pairs = Pairs(source=path)
    for row in iter_records(path, [query_column, passage_column, label_column]):
        raw = row[label_column].strip()
        try:
            label = float(raw)
        except ValueError:
            label = math.nan
        if not math.isfinite(label) or label < 0:
            raise InputError(f"{path}, line {row['_line']}: field {label_column!r} must be a number >= 0 (1 relevant, 0 not), got {raw!r}")
        pairs.add(row[query_column], row[passage_column], label)
    if not len(pairs):
        raise InputError(f"{path}: no rows")
    return pairs


def squad_paragraphs(paths: Sequence[str | Path]) -> tuple[list[str], list[str], list[tuple[str, int]]]:
    """(paragraphs, their article titles, (question, paragraph index) per question) of SQuAD files."""
    from bertkit.qa.squad import read_squad

    index: dict[tuple[str, str], int] = {}
    paragraphs, titles, questions = [], [], []
    for path in paths:
        for ex in read_squad(path).examples:
            key = (ex.title, ex.context)
            if key not in index:
                index[key] = len(paragraphs)
                paragraphs.append(ex.context)
                titles.append(ex.title)
            if not ex.is_impossible:
                questions.append((ex.question, index[key]))
    if not questions:
        raise InputError(f"{', '.join(map(str, paths))}: no answerable questions")
    return paragraphs, titles, questions


def split_articles(titles: list[str], questions: list[tuple[str, int]], held_out: int, seed: int) -> tuple[set[str], set[str]]:
    """(training articles, ``held_out`` articles chosen at random for the dev set)."""
    articles = sorted(set(titles))
    if held_out >= len(articles):
        raise ParameterError("dev_articles", f"dev_articles {held_out} leaves no training article (the data has {len(articles)})")
    rng = np.random.default_rng(seed)
    dev = set(rng.choice(articles, held_out, replace=False).tolist()) if held_out else set()
    return set(articles) - dev, dev


def _bm25_top(paragraphs: list[str], queries: list[str], k: int) -> np.ndarray:
    """Indices of each query's top ``k`` paragraphs by BM25. # -> (Q, k)"""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(paragraphs, stopwords="en", show_progress=False), show_progress=False)
    hits, _ = retriever.retrieve(bm25s.tokenize(queries, stopwords="en", show_progress=False), k=min(k, len(paragraphs)), show_progress=False)
    return np.asarray(hits)


def _dense_top(paragraphs: list[str], queries: list[str], k: int) -> np.ndarray:
    """Indices of each query's top ``k`` paragraphs by the packaged MiniLM's cosine. # -> (Q, k)"""
    from bertkit.embeddings import Embedder

    embedder = Embedder.load()
    p = embedder.embed(paragraphs)  # (P, D)
    q = embedder.embed(queries)  # (Q, D)
    p = p / np.linalg.norm(p, axis=1, keepdims=True).clip(1e-12)
    q = q / np.linalg.norm(q, axis=1, keepdims=True).clip(1e-12)
    scores = q @ p.T  # (Q, P)
    return np.argsort(-scores, axis=1, kind="stable")[:, : min(k, len(paragraphs))]


def squad_pairs(
    paths: Sequence[str | Path], *, negatives: int = 3, miners: Sequence[str] = ("bm25", "article"), articles: set[str] | None = None,
    limit: int | None = None, seed: int = 42, log: Callable[[str], None] = lambda m: None,
) -> Pairs:
    """One positive and up to ``negatives`` mined negatives per question (see the module doc),
    for questions of ``articles`` (None: all); negatives come from the same articles only."""
    for m in miners:
        if m not in MINERS:
            raise choice_error("miner", m, MINERS)
    if negatives < 0:
        raise ParameterError("negatives", f"negatives must be >= 0, got {negatives}")
    paragraphs, titles, questions = squad_paragraphs(paths)
    keep = [i for i, t in enumerate(titles) if articles is None or t in articles]
    local = {g: j for j, g in enumerate(keep)}
    qs = [(q, local[p]) for q, p in questions if p in local]
    rng = np.random.default_rng(seed)
    if limit is not None and limit < len(qs):
        qs = [qs[i] for i in sorted(rng.choice(len(qs), limit, replace=False).tolist())]
    texts = [paragraphs[i] for i in keep]
    ranked = {m: (_bm25_top if m == "bm25" else _dense_top)(texts, [q for q, _ in qs], negatives + 1) for m in miners if m != "article"}
    by_article: dict[str, list[int]] = {}
    for j, g in enumerate(keep):
        by_article.setdefault(titles[g], []).append(j)
    pairs = Pairs(source=", ".join(map(str, paths)))
    for n, (question, own) in enumerate(qs):
        chosen = _negatives_for(n, own, negatives, miners, ranked, by_article[titles[keep[own]]], rng)
        pairs.add(question, texts[own], 1.0)
        for j in chosen:
            pairs.add(question, texts[j], 0.0)
    log(f"{len(qs)} questions over {len(texts)} paragraphs: {len(pairs)} pairs ({', '.join(miners)} negatives)")
    return pairs


def _negatives_for(n: int, own: int, count: int, miners, ranked: dict, same_article: list[int], rng) -> list[int]:
    """Up to ``count`` distinct wrong paragraphs, taken in turn from each miner's list."""
    lists = []
    for m in miners:
        if m == "article":
            lists.append([int(j) for j in rng.permutation(same_article)])
        else:
            lists.append([int(j) for j in ranked[m][n]])
    chosen: list[int] = []
    cursors = [0] * len(lists)
    while len(chosen) < count and any(c < len(lst) for c, lst in zip(cursors, lists)):
        for k, lst in enumerate(lists):
            while cursors[k] < len(lst) and (lst[cursors[k]] == own or lst[cursors[k]] in chosen):
                cursors[k] += 1
            if cursors[k] < len(lst) and len(chosen) < count:
                chosen.append(lst[cursors[k]])
                cursors[k] += 1
    return chosen
