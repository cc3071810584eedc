"""The training and threshold split for the shipped QA model (SQuAD 2.0 form).

    python bench/qa_data.py [--out runs/qa_data]

Writes two SQuAD 2.0 JSON files from ../shared/data/squad:

- ``train.json``: ``train-v2.0.json`` + ``train-extra-v2.0.json`` without the held-out articles;
- ``holdout.json``: the first two articles of ``train-v2.0.json`` (Sky (United Kingdom) and
  Victoria (Australia): 457 questions, 225 of them unanswerable). The shipped model's
  null threshold is chosen on this file, never on the dev splits the numbers are reported on.

With ``--negatives N`` it also writes ``train-negatives.json``: ``train.json`` plus N extra
unanswerable questions, each an answerable training question asked of another paragraph
of the same article that does not contain its answer (seeded; ids end in ``-neg``). The
SQuAD 2.0 splits here hold 16% unanswerable questions; the dev split about half.

With ``--swaps N`` (after ``--negatives``) it writes ``train-swaps.json`` as well: those files'
questions plus N unanswerable questions made the way a fifth of SQuAD 2.0's were written
(entity swap): an answerable question whose name or number occurs in its paragraph, with
that name or number replaced by another of the same kind (a capitalised phrase of as many
words, or a number of as many digits) from elsewhere in the article that its paragraph never mentions,
asked of the same paragraph (seeded; ids end in ``-swap``).

The dev files (``dev-v1.1.json``, ``dev-v2.0.json``) are neither read nor written.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, ROOT  # noqa: E402

HOLDOUT_ARTICLES = 2


def _count(articles: list[dict]) -> tuple[int, int]:
    qas = [q for a in articles for p in a["paragraphs"] for q in p["qas"]]
    return len(qas), sum(bool(q.get("is_impossible")) for q in qas)


def _write(path: Path, articles: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": "v2.0", "data": articles}))
    tmp.replace(path)


def add_negatives(articles: list[dict], n: int, seed: int) -> list[dict]:
    """A copy of ``articles`` with ``n`` answerable questions also asked, unanswerable, of another
    paragraph of their article that holds none of their answers."""
    rng = random.Random(seed)
    out = copy.deepcopy(articles)
    pool = [(a, p, q) for a, art in enumerate(out) for p, par in enumerate(art["paragraphs"])
            for q in par["qas"] if not q.get("is_impossible") and len(art["paragraphs"]) > 1]
    rng.shuffle(pool)
    added = 0
    for a, p, q in pool:
        if added == n:
            break
        paragraphs = out[a]["paragraphs"]
        other = rng.choice([i for i in range(len(paragraphs)) if i != p])
        context = paragraphs[other]["context"]
        if any(ans["text"] in context for ans in q["answers"]):
            continue
        neg = {"id": q["id"] + "-neg", "question": q["question"], "answers": [], "is_impossible": True}
        paragraphs[other]["qas"].append(neg)
        added += 1
    return out


_NAME = re.compile(r"[A-Z][\w\-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w\-]*)*")
_NUMBER = re.compile(r"\b\d{1,4}\b")


def _mentions(text: str) -> list[str]:
    """Capitalised phrases (not the first word of ``text``) and numbers in ``text``."""
    names = [m.group() for m in _NAME.finditer(text) if m.start() > 0]
    return names + [m.group() for m in _NUMBER.finditer(text)]


def _same_kind(a: str, b: str) -> bool:
    """Numbers of as many digits, or different names of as many words."""
    if a.isdigit() or b.isdigit():
        return a.isdigit() and b.isdigit() and len(a) == len(b)
    return a != b and len(a.split()) == len(b.split())


def _swap(question: str, context: str, answers: list[str], pool: list[str], rng: random.Random) -> str | None:
    """``question`` with one of its mentions found in ``context`` (and in no answer) replaced by
    a mention of the same kind from ``pool`` that ``context`` lacks; None when there is none."""
    spans = [m for m in _mentions(question) if m in context and not any(m in a or a in m for a in answers)]
    rng.shuffle(spans)
    for span in spans:
        options = [p for p in pool if _same_kind(span, p) and p not in context and p not in question]
        if options:
            return question.replace(span, rng.choice(options), 1)
    return None


def add_swaps(articles: list[dict], n: int, seed: int) -> list[dict]:
    """A copy of ``articles`` with ``n`` entity-swapped, unanswerable questions added (see the module doc)."""
    rng = random.Random(seed)
    out = copy.deepcopy(articles)
    pools = [sorted({m for par in art["paragraphs"] for m in _mentions(par["context"])}) for art in out]
    work = [(a, par, q) for a, art in enumerate(out) for par in art["paragraphs"]
            for q in par["qas"] if not q.get("is_impossible")]
    rng.shuffle(work)
    added = 0
    for a, par, q in work:
        if added == n:
            break
        question = _swap(q["question"], par["context"], [x["text"] for x in q["answers"]], pools[a], rng)
        if question is not None:
            par["qas"].append({"id": q["id"] + "-swap", "question": question, "answers": [], "is_impossible": True})
            added += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "qa_data")
    parser.add_argument("--negatives", type=int, default=0, help="also write train-negatives.json with this many more unanswerable questions")
    parser.add_argument("--swaps", type=int, default=0, help="also write train-swaps.json with this many entity-swapped unanswerable questions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = json.loads((DATA / "squad" / "train-v2.0.json").read_text())["data"]
    extra = json.loads((DATA / "squad" / "train-extra-v2.0.json").read_text())["data"]
    holdout, train = base[:HOLDOUT_ARTICLES], base[HOLDOUT_ARTICLES:] + extra
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "train.json", train)
    _write(args.out / "holdout.json", holdout)
    files = [("train", train), ("holdout", holdout)]
    if args.negatives:
        files.append(("train-negatives", add_negatives(train, args.negatives, args.seed)))
        _write(args.out / "train-negatives.json", files[-1][1])
    if args.swaps:
        files.append(("train-swaps", add_swaps(files[-1][1], args.swaps, args.seed)))
        _write(args.out / "train-swaps.json", files[-1][1])
    for name, articles in files:
        n, impossible = _count(articles)
        print(f"{args.out / (name + '.json')}: {len(articles)} articles, {n} questions, {impossible} unanswerable")


if __name__ == "__main__":
    main()
