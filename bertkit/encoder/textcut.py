"""Cut a long text by characters before a truncating tokenisation, with the same tokens.

Tokenising a 50 MB line whole to keep its first 256 tokens costs a minute and gigabytes.
:class:`PrefixCutter` tokenises only a prefix of the text instead, and keeps the cut
only when it provably changes nothing: the tokenizer splits text into words
(pre-tokens) before it splits words into pieces, so every word of the prefix but the
last (which the cut may have broken) is tokenised exactly as in the whole text. When
the first ``room`` tokens all come from those complete words, the truncated tokens of
the prefix are the truncated tokens of the text, and the text is still counted as cut.
Otherwise the prefix doubles, up to the whole text (one long word, say).

Texts of up to ``room * CHARS_PER_TOKEN`` characters are never touched.
"""

from __future__ import annotations


__all__ = ["CHARS_PER_TOKEN", "PrefixCutter"]

CHARS_PER_TOKEN = 8  # the first prefix: room * 8 characters (English averages ~4-5 per WordPiece token)


class PrefixCutter:
    """``cut(texts)``: each text, or a prefix that tokenises to the same first ``room`` tokens.

    ``tokenizer`` is a ``tokenizers.Tokenizer``; a private copy without truncation or
    padding is made, so the caller's settings are never changed. Thread-safe (read-only after init).
    """

    def __init__(self, tokenizer, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_str(tokenizer.to_str())
        self._tok.no_truncation()
        self._tok.no_padding()
        self.max_length = int(max_length)
        specials = len(self._tok.encode("", add_special_tokens=True).ids)
        self.room = max(1, int(max_length) - specials)  # tokens of text a window keeps
        self.limit = self.room * CHARS_PER_TOKEN

    def cut(self, texts: list[str]) -> list[str]:
        """The texts with each long one replaced by its shortest safe prefix (a new list)."""
        if all(len(t) <= self.limit for t in texts):
            return texts
        return [t if len(t) <= self.limit else self.prefix(t) for t in texts]

    def prefix(self, text: str) -> str:
        """The first characters of ``text`` whose first ``room`` tokens are the text's own."""
        n = self.limit
        while n < len(text):
            enc = self._tok.encode(text[:n], add_special_tokens=False)
            words = enc.word_ids
            if len(words) > self.room and words[self.room - 1] is not None and words[-1] is not None and words[self.room - 1] < words[-1]:
                return text[:n]
            n *= 2
        return text
