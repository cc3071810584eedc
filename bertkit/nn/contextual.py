"""``ContextualEmbedding``: contextual word vectors where ``nn.Embedding`` was.

>>> emb = ContextualEmbedding(layers="-4:", layer_combine="mean", subword="first")
>>> vectors, mask = emb([["New", "York", "is", "big"], ["Hi"]])   # (2, 4, 384), (2, 4)
>>> vectors, mask = emb(["New York is big.", "Hi!"])               # raw texts, split like the tokenizer

Frozen (the default), the vectors of each distinct sentence are computed once and kept
in an on-disk cache (see :mod:`bertkit.nn.wordcache`), so later epochs and later runs
never run the encoder; a ``weighted`` layer mix still learns on top of the cached
per-layer states. ``trainable=True`` registers the encoder as the submodule ``encoder``
and fine-tunes it end to end. Long sentences are split into overlapping windows, so no
word is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from bertkit.embeddings.layers import LayerSelection, parse_layers
from bertkit.encoder.batching import pad_batch
from bertkit.encoder.encoder import Encoder
from bertkit.encoder.fingerprint import model_fingerprint
from bertkit.errors import UsageError, choice_error
from bertkit.nn.layermix import LayerMix, combined_dim
from bertkit.nn.subwords import SUBWORD_RULES, align_words, pool_subwords
from bertkit.nn.wordcache import WordStateCache

__all__ = ["LONG_MODES", "WordSplit", "ContextualEmbedding", "split_words"]

LONG_MODES = ("window", "truncate")


@dataclass
class WordSplit:
    words: list[list[str]]
    offsets: list[list[tuple[int, int]]] | None  # character spans into each raw text (None for word lists)


def split_words(tokenizer, texts: Sequence[str]) -> WordSplit:
    """Split raw texts into words the way the tokenizer's pre-tokenizer does, keeping character offsets."""
    pre = getattr(getattr(tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)
    words, offsets = [], []
    for text in texts:
        if pre is not None:
            pieces = pre.pre_tokenize_str(text)
        else:  # pragma: no cover - slow tokenizers: whitespace words
            import re

            pieces = [(m.group(), m.span()) for m in re.finditer(r"\S+", text)]
        spans = [_trimmed(text, int(a), int(b)) for _, (a, b) in pieces]
        spans = [(a, b) for a, b in spans if a < b]
        # the words as written (a SentencePiece or byte-level pre-tokenizer marks them with
        # "▁" / "Ġ" and counts the space before a word as its own): text[a:b], spaces trimmed
        words.append([text[a:b] for a, b in spans])
        offsets.append(spans)
    return WordSplit(words, offsets)


def _trimmed(text: str, a: int, b: int) -> tuple[int, int]:
    """The span ``a:b`` of ``text`` without leading or trailing whitespace."""
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _as_word_lists(batch, tokenizer) -> WordSplit:
    if isinstance(batch, str):
        batch = [batch]
    batch = list(batch)
    if all(isinstance(x, str) for x in batch):
        return split_words(tokenizer, batch)
    for i, sentence in enumerate(batch):
        if not isinstance(sentence, (list, tuple)) or not all(isinstance(w, str) for w in sentence):
            raise UsageError(f"input {i} is {type(sentence).__name__}; give raw texts (str) or word lists (list[str])")
    return WordSplit([list(s) for s in batch], None)


class ContextualEmbedding(nn.Module):
    """Word lists (or raw texts) in; word vectors ``(B, W, D)`` and a word mask ``(B, W)`` out."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        layers: str | int = "-1",
        layer_combine: str = "mean",
        subword: str = "first",
        trainable: bool = False,
        cache_dir: str | os.PathLike | None = None,
        cache: bool = True,
        cache_dtype: str = "float16",
        max_length: int | None = None,
        long: str = "window",
        stride: int | None = None,
        batch_size: int = 32,
        device: str = "auto",
        dtype: str = "fp32",
        encoder: Encoder | None = None,
    ) -> None:
        super().__init__()
        if subword not in SUBWORD_RULES:
            raise choice_error("subword rule", subword, SUBWORD_RULES)
        if long not in LONG_MODES:
            raise choice_error("long-sentence mode", long, LONG_MODES)
        if batch_size < 1:
            raise UsageError(f"batch size must be >= 1, got {batch_size}")
        runner = encoder or Encoder(model, device=device, dtype=dtype, max_length=max_length)
        self.runner = runner  # tokenizer, batching, forward; the weights are a submodule only when trainable
        self.layers: LayerSelection = parse_layers(layers, runner.num_layers)
        self.subword = subword
        self.long = long
        self.stride = stride if stride is not None else runner.max_length // 4
        self.batch_size = batch_size
        self.trainable = trainable
        self.mix = LayerMix(layer_combine, len(self.layers.indices))
        if trainable:
            self.encoder = runner.model
        else:  # run under no_grad; the caller's encoder object is left as it is
            runner.model.eval()
        self.states_fn = None  # frozen only: batch -> per-layer token states (N, T, K, H), replacing the torch pass
        self.cache: WordStateCache | None = None
        if cache and not trainable:
            self.cache = WordStateCache(cache_dir, self.cache_config(), cache_dtype)

    # -- facts -------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Features per layer and word: H, or 2H for first_last."""
        return self.runner.hidden_size * (2 if self.subword == "first_last" else 1)

    @property
    def dim(self) -> int:
        return combined_dim(self.mix.combine, len(self.layers.indices), self.width)

    @property
    def device(self) -> torch.device:
        return self.runner.device

    def cache_config(self) -> dict:
        return {
            "model": model_fingerprint(self.runner), "subword": self.subword,
            "max_length": self.runner.max_length, "long": self.long, "stride": self.stride,
        }

    def split(self, batch) -> WordSplit:
        """The words (and, for raw texts, their character offsets) ``forward`` will embed."""
        return _as_word_lists(batch, self.runner.tokenizer)

    # -- the encoder pass --------------------------------------------------------------
    def _tokenize(self, word_lists: list[list[str]]):
        try:
            enc = self.runner.tokenizer(
                word_lists, is_split_into_words=True, truncation=True, max_length=self.runner.max_length,
                stride=self.stride, return_overflowing_tokens=True,
                return_token_type_ids="token_type_ids" in self.runner.input_keys,
            )
        except (ValueError, TypeError) as exc:  # e.g. byte-level BPE tokenizers saved without add_prefix_space
            raise UsageError(f"the tokenizer of {self.runner.path.name} cannot take pre-split words: {str(exc).splitlines()[0][:160]}") from None
        mapping = list(enc["overflow_to_sample_mapping"])
        keep = [k for k, s in enumerate(mapping) if self.long == "window" or k == 0 or mapping[k - 1] != s]
        features = [{key: enc[key][k] for key in self.runner.input_keys if key in enc} for k in keep]
        return features, [mapping[k] for k in keep], [enc.word_ids(k) for k in keep]

    def word_states(self, word_lists: list[list[str]], max_words: int | None = None) -> Tensor:
        """Per-layer word vectors from one encoder pass. # -> (S, W, K, width) float32"""
        features, sample, word_ids = self._tokenize(word_lists)
        batch = pad_batch(features, self.runner.tokenizer.pad_token_id or 0, self.runner.input_keys)
        batch = {k: v.to(self.runner.device) for k, v in batch.items()}
        if self.states_fn is not None:  # another runtime (e.g. ONNX) for the encoder pass
            states = self.states_fn(batch).to(self.runner.device)  # (N, T, K, H)
        elif self.layers.last_only:
            states = self.runner.forward(batch).last_hidden_state.unsqueeze(2)  # (N, T, 1, H)
        else:
            out = self.runner.forward(batch, hidden_states=True)
            states = torch.stack([out.hidden_states[i] for i in self.layers.indices], dim=2)  # (N, T, K, H)
        alignment = align_words(word_ids, sample, [len(w) for w in word_lists])
        max_words = max_words or max([len(w) for w in word_lists] + [1])
        return pool_subwords(states, alignment, self.subword, max_words)

    def _frozen_states(self, word_lists: list[list[str]]) -> Tensor:
        """Cached (or freshly computed, then cached) per-layer states. # -> (S, W, K, width)"""
        found: list[np.ndarray | None] = [self.cache.get(w, self.layers.indices) if self.cache else None for w in word_lists]
        missing = [i for i, x in enumerate(found) if x is None]
        with torch.no_grad():
            for start in range(0, len(missing), self.batch_size):
                chunk = missing[start : start + self.batch_size]
                states = self.word_states([word_lists[i] for i in chunk]).cpu().numpy()
                for row, i in enumerate(chunk):
                    value = states[row, : len(word_lists[i])]
                    found[i] = self.cache.put(word_lists[i], self.layers.indices, value) if self.cache else value
        max_words = max([len(w) for w in word_lists] + [1])
        out = np.zeros((len(word_lists), max_words, len(self.layers.indices), self.width), dtype=np.float32)
        for i, x in enumerate(found):
            out[i, : x.shape[0]] = x
        return torch.from_numpy(out).to(self.runner.device)

    def forward(self, batch: Sequence[str] | Sequence[Sequence[str]]) -> tuple[Tensor, Tensor]:
        """# B texts or word lists -> vectors (B, W, D) float32, mask (B, W) bool"""
        word_lists = self.split(batch).words
        if self.trainable:
            width = max([len(w) for w in word_lists] + [1])
            chunks = range(0, len(word_lists), self.batch_size)
            states = torch.cat([self.word_states(word_lists[i : i + self.batch_size], width) for i in chunks])
        else:
            states = self._frozen_states(word_lists)
        lengths = torch.tensor([len(w) for w in word_lists], device=states.device)
        mask = torch.arange(states.shape[1], device=states.device)[None, :] < lengths[:, None]  # (B, W)
        return self.mix(states), mask
