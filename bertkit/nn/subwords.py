"""From sub-word token states to word vectors: which window and which pieces each word uses.

Pure functions over the tokenizer's ``word_ids`` (one list per window), so the rules are
easy to test:

* a word split over several windows (long sentences, ``long="window"``) is read from the
  window that holds most of its pieces, ties broken by the most context on both sides;
* ``first`` / ``last`` take the word's first / last piece, ``mean`` averages its pieces,
  ``first_last`` concatenates first and last;
* a word with no piece at all (only a zero-width character, or cut off by truncation)
  gets a zero vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["SUBWORD_RULES", "WordPieces", "align_words", "Gather", "gather_plan", "gather_words", "pool_subwords"]

SUBWORD_RULES = ("first", "last", "first_last", "mean")


@dataclass
class WordPieces:
    """Where one word's pieces are: a window index and the token positions in it."""

    window: int
    positions: list[int]


def align_words(
    word_ids: Sequence[Sequence[int | None]], sample: Sequence[int], num_words: Sequence[int]
) -> list[list[WordPieces | None]]:
    """Per sentence, per word: the chosen window and its pieces (None: no piece anywhere)."""
    found: list[dict[int, dict[int, list[int]]]] = [{} for _ in num_words]  # sentence -> word -> window -> positions
    lengths = [len(w) for w in word_ids]
    for w, (wids, s) in enumerate(zip(word_ids, sample)):
        for t, word in enumerate(wids):
            if word is not None:
                found[s].setdefault(word, {}).setdefault(w, []).append(t)
    result: list[list[WordPieces | None]] = []
    for s, n in enumerate(num_words):
        row: list[WordPieces | None] = []
        for word in range(n):
            windows = found[s].get(word)
            if not windows:
                row.append(None)
                continue

            def score(item: tuple[int, list[int]]) -> tuple[int, int]:
                w, pos = item
                return len(pos), min(pos[0], lengths[w] - 1 - pos[-1])

            best, positions = max(windows.items(), key=score)
            row.append(WordPieces(best, positions))
        result.append(row)
    return result


@dataclass
class Gather:
    """Index lists for one piece-to-word reduction over a batch of windows."""

    rows: Tensor  # (E,) window index of each entry
    positions: Tensor  # (E,) token position
    targets: Tensor  # (E,) flat word index: sentence * max_words + word
    weights: Tensor  # (E,) float32


def gather_plan(alignment: list[list[WordPieces | None]], rule: str, max_words: int) -> Gather:
    """Entries that ``gather_words`` sums; ``rule`` is first, last or mean."""
    rows: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for s, words in enumerate(alignment):
        for j, pieces in enumerate(words):
            if pieces is None:
                continue
            chosen = {"first": pieces.positions[:1], "last": pieces.positions[-1:], "mean": pieces.positions}[rule]
            for p in chosen:
                rows.append(pieces.window)
                positions.append(p)
                targets.append(s * max_words + j)
                weights.append(1.0 / len(chosen))
    return Gather(
        torch.tensor(rows, dtype=torch.long), torch.tensor(positions, dtype=torch.long),
        torch.tensor(targets, dtype=torch.long), torch.tensor(weights, dtype=torch.float32),
    )


def gather_words(states: Tensor, plan: Gather, num_sentences: int, max_words: int) -> Tensor:
    """Sum the planned pieces into word slots. # (N_win, T, *F), plan -> (S, W, *F)"""
    feature_shape = states.shape[2:]
    device = states.device
    picked = states[plan.rows.to(device), plan.positions.to(device)].float()  # (E, *F)
    weights = plan.weights.to(device).view(-1, *([1] * len(feature_shape)))
    out = torch.zeros((num_sentences * max_words, *feature_shape), dtype=torch.float32, device=device)
    out = out.index_add(0, plan.targets.to(device), picked * weights)
    return out.view(num_sentences, max_words, *feature_shape)


def pool_subwords(states: Tensor, alignment: list[list[WordPieces | None]], rule: str, max_words: int) -> Tensor:
    """Word vectors by ``rule``; first_last concatenates on the last axis. # (N_win, T, K, H) -> (S, W, K, H or 2H)"""
    n = len(alignment)
    if rule == "first_last":
        first = gather_words(states, gather_plan(alignment, "first", max_words), n, max_words)
        last = gather_words(states, gather_plan(alignment, "last", max_words), n, max_words)
        return torch.cat([first, last], dim=-1)
    return gather_words(states, gather_plan(alignment, rule, max_words), n, max_words)

