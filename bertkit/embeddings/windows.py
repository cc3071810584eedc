"""Pool the windows of a long text back into one vector, and sub-word pieces into words.

Pure numpy/tensor functions, so the rules are easy to test. Each pooling states its
rule per block of its vector (``Pooling.window_rules()``: (width, rule) pairs):
- ``max`` / ``min`` blocks take the max / min over windows (exactly the max / min over
  all tokens);
- ``mean`` blocks are the average of window vectors weighted by each window's number
  of real tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["combine_windows", "pool_pieces_to_words"]


def combine_windows(vectors: np.ndarray, counts: np.ndarray, rules: Sequence[tuple[int, str]]) -> np.ndarray:
    """Combine one text's window vectors. # (W, D), (W,) -> (D,)"""
    if vectors.shape[0] == 1:
        return vectors[0]
    weights = counts.astype(np.float64) / max(float(counts.sum()), 1.0)  # (W,)
    out = []
    start = 0
    for width, rule in rules:
        block = vectors[:, start : start + width]  # (W, width)
        if rule == "max":
            out.append(block.max(axis=0))
        elif rule == "min":
            out.append(block.min(axis=0))
        else:
            out.append((block.astype(np.float64) * weights[:, None]).sum(axis=0).astype(vectors.dtype))
        start += width
    return np.concatenate(out)


def pool_pieces_to_words(
    states: Sequence[np.ndarray],
    word_ids: Sequence[Sequence[int | None]],
    offsets: Sequence[Sequence[tuple[int, int]]],
    text: str,
) -> tuple[list[str], np.ndarray]:
    """Mean of each word's sub-word piece vectors, across all windows of one text.

    ``states[w]`` is (T_w, H) for window w, ``word_ids[w][t]`` the word of token t (None
    for special tokens), ``offsets[w][t]`` its character span. Returns the words (as
    spelled in ``text``) and their vectors (n_words, H).
    """
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    spans: dict[int, list[int]] = {}
    for s, wids, offs in zip(states, word_ids, offsets):
        for t, w in enumerate(wids):
            if w is None or t >= s.shape[0]:
                continue
            sums[w] = sums.get(w, 0.0) + s[t].astype(np.float64)
            counts[w] = counts.get(w, 0) + 1
            a, b = offs[t]
            span = spans.setdefault(w, [a, b])
            span[0], span[1] = min(span[0], a), max(span[1], b)
    order = sorted(sums)
    hidden = states[0].shape[1] if len(states) else 0
    if not order:
        return [], np.zeros((0, hidden), dtype=np.float32)
    words = [text[spans[w][0] : spans[w][1]] for w in order]
    vectors = np.stack([sums[w] / counts[w] for w in order]).astype(np.float32)
    return words, vectors
