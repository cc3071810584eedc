"""Hold whole sentences out of SST-2's ``train-clean.tsv``, as ``dev-sentences.tsv`` was held out.

``train-clean.tsv`` holds every phrase of its sentences' parse trees. A row that no other
row contains is a sentence (the root of its tree). This script draws ``--sentences`` such
roots of 6+ tokens (seeded) as a selection split and removes from training **every** row
that is a contiguous token span of a held-out sentence (its tree's phrases, and any phrase
it shares with other trees), so nothing chosen on the held-out split has been trained on.

    python bench/sst2_split.py [--sentences 1000] [--seed 0] [--out runs/sst2]

Writes ``OUT/train-heldin.tsv`` and ``OUT/heldout-sentences.tsv`` (same columns as the
shared files) and prints the counts.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA as SHARED  # noqa: E402

DATA = SHARED / "sst2"


def read_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(r["sentence"], r["label"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def spans(text: str) -> set[str]:
    """Every contiguous token span of a whitespace-tokenised text, itself included."""
    tokens = text.split()
    return {" ".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)}


def roots(rows: list[tuple[str, str]]) -> list[int]:
    """Indices of rows that no longer row contains (each tree's whole sentence)."""
    texts = {text for text, _ in rows}
    contained: set[str] = set()
    for text, _ in rows:
        contained |= (spans(text) & texts) - {text}
    return [i for i, (text, _) in enumerate(rows) if text not in contained]


def split(rows: list[tuple[str, str]], n: int, seed: int, min_tokens: int = 6):
    candidates = [i for i in roots(rows) if len(rows[i][0].split()) >= min_tokens]
    held = sorted(random.Random(seed).sample(candidates, n))
    removed: set[str] = set()
    for i in held:
        removed |= spans(rows[i][0])
    heldout = [rows[i] for i in held]
    train = [r for r in rows if r[0] not in removed]
    return train, heldout, len(candidates)


def write_rows(path: Path, rows: list[tuple[str, str]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        f.write("sentence\tlabel\n")
        f.writelines(f"{text}\t{label}\n" for text, label in rows)
    tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/sst2"))
    args = ap.parse_args()
    rows = read_rows(DATA / "train-clean.tsv")
    train, heldout, candidates = split(rows, args.sentences, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_rows(args.out / "train-heldin.tsv", train)
    write_rows(args.out / "heldout-sentences.tsv", heldout)
    dev = {text for text, _ in read_rows(DATA / "dev-sentences.tsv")}
    assert not dev & {t for t, _ in heldout}, "a held-out sentence is a dev sentence"
    print(f"train-clean.tsv: {len(rows)} rows, {candidates} sentences of 6+ tokens; held out {len(heldout)} "
          f"sentences (positive {sum(l == '1' for _, l in heldout)}); training keeps {len(train)} rows "
          f"({len(rows) - len(train)} removed: the held-out sentences' phrases) -> {args.out}")


if __name__ == "__main__":
    main()
