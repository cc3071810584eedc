"""Generated CoNLL data for tagger tests (never the real data sets)."""

from __future__ import annotations

import random
from pathlib import Path

NAMES = [["alice"], ["bob"], ["carol", "smith"], ["dave"]]
PLACES = [["paris"], ["new", "york"], ["rome"], ["los", "angeles"]]


def _entity(words: list[str], kind: str, scheme: str) -> list[tuple[str, str]]:
    if scheme == "BIOES":
        if len(words) == 1:
            return [(words[0], f"S-{kind}")]
        return [(words[0], f"B-{kind}")] + [(w, f"I-{kind}") for w in words[1:-1]] + [(words[-1], f"E-{kind}")]
    return [(w, ("B-" if i == 0 else "I-") + kind) for i, w in enumerate(words)]


def sentences(n: int, seed: int = 0, scheme: str = "BIO") -> list[list[tuple[str, str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append([("i", "O"), ("met", "O")] + _entity(rng.choice(NAMES), "PER", scheme) + [("in", "O")]
                   + _entity(rng.choice(PLACES), "LOC", scheme) + [(".", "O")])
    return out


def write_conll(path: Path, sents: list[list[tuple[str, str]]], sep: str = "\t") -> Path:
    path.write_text("-DOCSTART-\tO\n\n" + "".join("".join(f"{w}{sep}{t}\n" for w, t in s) + "\n" for s in sents), encoding="utf-8")
    return path
