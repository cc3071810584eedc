"""Split documents into passages of at most N tokens with an overlap, keeping character spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bertkit.errors import ParameterError

__all__ = ["Passage", "PassageSplitter"]


@dataclass(frozen=True)
class Passage:
    doc_index: int  # which input document
    number: int  # k-th passage of the document, from 0
    start: int  # character span in the document text
    end: int


class PassageSplitter:
    """Token windows of ``tokens`` tokens advancing by ``tokens - overlap``, cut at token edges.

    A document that fits in one window is one passage spanning all of it. The tokenizer is
    a private copy of the encoder's fast tokenizer (no truncation, no special tokens), so
    the encoder's own tokenizer settings are never touched.
    """

    def __init__(self, encoder, tokens: int | None = None, overlap: int = 32) -> None:
        room = encoder.max_length - encoder.tokenizer.num_special_tokens_to_add(pair=False)
        tokens = room if tokens is None else int(tokens)
        if not 1 <= tokens <= room:
            raise ParameterError("passage_tokens", f"passage_tokens {tokens} out of range: the encoder reads at most {room} tokens besides its special tokens (use 1..{room})")
        if not 0 <= overlap < tokens:
            raise ParameterError("passage_overlap", f"passage_overlap {overlap} must be in 0..{tokens - 1} (below passage_tokens {tokens})")
        self.tokens, self.overlap = tokens, int(overlap)
        backend = getattr(encoder.tokenizer, "_tokenizer", None)
        if backend is None or not hasattr(backend, "encode_batch"):
            raise ParameterError("model", f"{encoder.path.name}: passage splitting needs a fast tokenizer (tokenizer.json)")
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(backend.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def split(self, texts: Sequence[str]) -> list[Passage]:
        """Passages of every text, in input order."""
        out: list[Passage] = []
        step = self.tokens - self.overlap
        for i, enc in enumerate(self._tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            offsets = [o for o in enc.offsets if o[1] > o[0]] or [(0, 0)]
            if len(offsets) <= self.tokens:
                out.append(Passage(i, 0, 0, len(texts[i])))
                continue
            first, k = 0, 0
            while True:
                last = min(first + self.tokens, len(offsets)) - 1
                out.append(Passage(i, k, offsets[first][0], offsets[last][1]))
                if last == len(offsets) - 1:
                    break
                first, k = first + step, k + 1
        return out
