"""The Embedder: texts in, one vector per text (or per word) out, in input order."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from bertkit.encoder.encoder import Encoder
from bertkit.engine.backends import ONNX_ON_GPU, torch_settings
from bertkit.engine.build import build_backend
from bertkit.embeddings.layers import LayerSelection, parse_layers
from bertkit.embeddings.pooling import Pooling, build_pooling, split_pooling_spec
from bertkit.embeddings.windows import combine_windows, pool_pieces_to_words, window_rules
from bertkit.errors import UsageError, choice_error

__all__ = ["LONG_MODES", "EmbedStats", "WordVectors", "Embedder", "embed"]

LONG_MODES = ("truncate", "window")


@dataclass
class EmbedStats:
    texts: int = 0
    tokens: int = 0  # real tokens fed to the model, special tokens included
    truncated: int = 0  # texts cut (truncate) or split into windows (window)
    seconds: float = 0.0

    @property
    def texts_per_second(self) -> float:
        return self.texts / self.seconds if self.seconds > 0 else 0.0

    def summary(self, long_mode: str = "truncate") -> str:
        cut = "cut to max length" if long_mode == "truncate" else "split into windows"
        return (
            f"{self.texts} texts, {self.tokens} tokens, {self.seconds:.2f} s, "
            f"{self.texts_per_second:.1f} texts/s; {self.truncated} {cut}"
        )


@dataclass
class WordVectors:
    text: str
    words: list[str]
    vectors: np.ndarray  # (n_words, H)


class Embedder:
    """Encoder + layer selection + pooling. Reuse one object for repeated calls.

    >>> emb = Embedder(pooling="mean", normalize=True)
    >>> vectors = emb.embed(["a sentence", "another one"])  # (2, 384) float32
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        pooling: str = "mean",
        layers: str | int = "-1",
        normalize: bool = False,
        batch_size: int = 32,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        long: str = "truncate",
        stride: int | None = None,
        backend: str = "torch",
        dtype: str = "fp32",
        device: str = "auto",
        layer_start: int | None = None,
        encoder: Encoder | None = None,
        pooling_module: Pooling | None = None,
        progress: bool = False,
    ) -> None:
        self.parts = split_pooling_spec(pooling)
        if long not in LONG_MODES:
            raise choice_error("long-text mode", long, LONG_MODES)
        if batch_size < 1:
            raise UsageError(f"batch size must be >= 1, got {batch_size}")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise UsageError(f"max batch tokens must be >= 1, got {max_batch_tokens}")
        device, torch_dtype = torch_settings(backend, dtype, device)
        self._owns_encoder = encoder is None  # its weights may be released behind an ONNX backend
        # behind ONNX the torch weights are needed only to export (once, then cached)
        self.encoder = encoder or Encoder(model, device=device, dtype=torch_dtype, max_length=max_length, lazy=backend == "onnx")
        if backend == "onnx" and self.encoder.device.type != "cpu":
            raise UsageError(ONNX_ON_GPU)
        self.layers: LayerSelection = parse_layers(layers, self.encoder.num_layers)
        if pooling_module is None:
            # Untrained learned poolings start neutral (mean, uniform layers) whatever their
            # random parts; a fixed seed makes those parts, and so the ONNX cache key, repeatable.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                pooling_module = build_pooling(pooling, self.encoder.hidden_size, self.encoder.num_layers, layer_start=layer_start)
        self.pooling = pooling_module
        if self.pooling.needs_pooler and not self.encoder.has_pooler:
            raise UsageError(
                f"pooling 'pooler' is not available for {self.encoder.path.name}: the model has no trained pooler; "
                "use cls, mean, max, min, mean_sqrt_len, weighted_layer or attention"
            )
        self.pooling.to(self.encoder.device).eval()
        self.normalize = normalize
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.long = long
        self.stride = stride
        self.backend_name = backend
        self.dtype = dtype
        self.progress = progress
        self.last_stats = EmbedStats()
        self._backend = None

    @property
    def backend(self):
        """The inference backend, built on first use (an ONNX export can take seconds)."""
        if self._backend is None:
            self._backend = build_backend(self)
        return self._backend

    @property
    def dim(self) -> int:
        return self.pooling.output_dim

    @property
    def needs_hidden_states(self) -> bool:
        return self.pooling.needs_hidden_states or not self.layers.last_only

    def _run(self, windows, desc: str):
        """Yield (window indices, batch, encoder output) over length-sorted batches (torch)."""
        bar = tqdm(total=len(windows.features), desc=desc, unit="text", disable=not self.progress, leave=False)
        with torch.inference_mode():
            for idx, batch in self.encoder.batches(windows, self.batch_size, self.max_batch_tokens):
                out = self.encoder.forward(batch, hidden_states=self.needs_hidden_states)
                yield idx, batch, out
                bar.update(len(idx))
        bar.close()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 vector per text, row i for ``texts[i]``. # -> (N, D)"""
        texts = _check_texts(texts)
        self.last_stats = EmbedStats()
        return self._embed_chunk(texts, self.backend)

    def embed_stream(self, texts: Iterable[str], chunk_size: int = 8192) -> Iterator[tuple[list[str], np.ndarray]]:
        """Embed an iterable of any length chunk by chunk, so memory stays flat.

        Yields (texts, vectors (n, D)) per chunk of ``chunk_size`` texts, in input order;
        each chunk is sorted by length internally. ``last_stats`` accumulates.
        """
        self.last_stats = EmbedStats()
        chunk: list[str] = []
        for text in texts:
            chunk.append(text)
            if len(chunk) >= chunk_size:
                yield chunk, self._embed_chunk(_check_texts(chunk), self.backend)
                chunk = []
        if chunk:
            yield chunk, self._embed_chunk(_check_texts(chunk), self.backend)

    def _embed_chunk(self, texts: list[str], backend) -> np.ndarray:
        start = time.perf_counter()
        windows = self.encoder.tokenize(texts, windows=self.long == "window", stride=self.stride)
        window_vecs = np.zeros((len(windows.features), self.dim), dtype=np.float32)
        bar = tqdm(total=len(windows.features), desc="embedding", unit="text", disable=not self.progress, leave=False)
        for idx, batch in self.encoder.batches(windows, self.batch_size, self.max_batch_tokens):
            window_vecs[idx] = backend.run(batch)
            bar.update(len(idx))
        bar.close()
        result = self._combine(windows, window_vecs)
        if self.normalize:
            norms = np.linalg.norm(result, axis=1, keepdims=True)
            result = result / np.maximum(norms, 1e-12)
        stats = self.last_stats
        stats.texts += len(texts)
        stats.tokens += int(sum(windows.lengths))
        stats.truncated += windows.truncated
        stats.seconds += time.perf_counter() - start
        return result.astype(np.float32, copy=False)

    def _combine(self, windows, window_vecs: np.ndarray) -> np.ndarray:
        if len(windows.features) == windows.num_texts:
            order = np.empty(windows.num_texts, dtype=np.int64)
            order[np.asarray(windows.sample)] = np.arange(len(windows.sample))
            return window_vecs[order]
        counts = np.asarray(windows.lengths, dtype=np.float64)
        rules = window_rules(self.parts, self.encoder.hidden_size)
        groups: list[list[int]] = [[] for _ in range(windows.num_texts)]
        for w, s in enumerate(windows.sample):
            groups[s].append(w)
        return np.stack([combine_windows(window_vecs[g], counts[g], rules) for g in groups])

    def embed_words(self, texts: Sequence[str]) -> list[WordVectors]:
        """Word-level vectors: sub-word piece states (of the selected layers) averaged per word."""
        if self.backend_name != "torch":
            raise UsageError("word vectors (--tokens) need the torch backend; drop --backend onnx")
        texts = _check_texts(texts)
        start = time.perf_counter()
        windows = self.encoder.tokenize(
            texts, windows=self.long == "window", stride=self.stride, word_ids=True, offsets=True
        )
        states: list[np.ndarray | None] = [None] * len(windows.features)
        for idx, batch, out in self._run(windows, "embedding words"):
            tokens = self.layers.select(out.hidden_states) if out.hidden_states is not None else out.last_hidden_state
            tokens = tokens.float().cpu().numpy()
            for row, w in enumerate(idx):
                states[w] = tokens[row, : len(windows.features[w]["input_ids"])]
        groups: list[list[int]] = [[] for _ in range(windows.num_texts)]
        for w, s in enumerate(windows.sample):
            groups[s].append(w)
        result = []
        for i, g in enumerate(groups):
            words, vecs = pool_pieces_to_words(
                [states[w] for w in g],
                [windows.word_ids[w] for w in g],
                [windows.features[w]["offset_mapping"] for w in g],
                texts[i],
            )
            if self.normalize and len(vecs):
                vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            result.append(WordVectors(texts[i], words, vecs))
        self.last_stats = EmbedStats(len(texts), int(sum(windows.lengths)), windows.truncated, time.perf_counter() - start)
        return result


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise UsageError(f"text {i} is {type(t).__name__}, expected str")
    return texts


def embed(texts: Sequence[str], model: str | os.PathLike | None = None, **options) -> np.ndarray:
    """Embed ``texts`` in one call: ``bertkit.embed(["hi"], pooling="mean")`` -> (N, D).

    Options are those of :class:`Embedder`. For repeated calls keep an Embedder.
    """
    return Embedder(model, **options).embed(texts)
