"""The training and threshold split for the shipped QA model (SQuAD 2.0 form).

    python bench/qa_data.py [--out runs/qa_data]

Writes two SQuAD 2.0 JSON files from ../shared/data/squad:

- ``train.json``: ``train-v2.0.json`` + ``train-extra-v2.0.json`` without the held-out articles;
- ``holdout.json``: the first two articles of ``train-v2.0.json`` (Sky (United Kingdom) and
  Victoria (Australia): 457 questions, 225 of them unanswerable). The shipped model's
  null threshold is chosen on this file, never on the dev splits the numbers are reported on.

The dev files (``dev-v1.1.json``, ``dev-v2.0.json``) are neither read nor written.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "qa_data")
    args = parser.parse_args()
    base = json.loads((DATA / "squad" / "train-v2.0.json").read_text())["data"]
    extra = json.loads((DATA / "squad" / "train-extra-v2.0.json").read_text())["data"]
    holdout, train = base[:HOLDOUT_ARTICLES], base[HOLDOUT_ARTICLES:] + extra
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "train.json", train)
    _write(args.out / "holdout.json", holdout)
    for name, articles in (("train", train), ("holdout", holdout)):
        n, impossible = _count(articles)
        print(f"{args.out / (name + '.json')}: {len(articles)} articles, {n} questions, {impossible} unanswerable")


if __name__ == "__main__":
    main()
