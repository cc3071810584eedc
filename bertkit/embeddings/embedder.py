"""The Embedder: texts in, one vector per text (or per word) out, in input order."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from bertkit.encoder.encoder import Encoder
from bertkit.encoder.loading import resolve_model_dir
from bertkit.embeddings.engine import build_backend
from bertkit.engine.runtime import Runtime, model_key, probe_encoder, resolve_runtime
from bertkit.embeddings.layers import LayerSelection, parse_layers
from bertkit.embeddings.pooling import Pooling, build_pooling, split_pooling_spec
from bertkit.embeddings.windows import combine_windows, pool_pieces_to_words
from bertkit.engine.backends import ONNX_ON_GPU
from bertkit.errors import ParameterError, UsageError, choice_error

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

    >>> emb = Embedder(pooling="mean", normalize=True)      # backend/dtype/device "auto"
    >>> vectors = emb.embed(["a sentence", "another one"])  # (2, 384) float32
    >>> emb.runtime.backend, emb.runtime.dtype               # what runs, and .reason says why
    ('torch', 'bf16')

    Thread-safe: many threads may call one Embedder at once and get the serial results.
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
        backend: str = "auto",
        dtype: str = "auto",
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
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise UsageError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self._owns_encoder = encoder is None  # its weights may be released behind an ONNX backend
        self.runtime, self.encoder = _runtime_and_encoder(model, encoder, backend, dtype, device, max_length)
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
        if long == "window" and stride is not None:
            _check_stride(stride, self.encoder)
        self.backend_name = self.runtime.backend
        self.dtype = self.runtime.dtype
        self.progress = progress
        self.last_stats = EmbedStats()  # of the last finished call (a per-call copy; never shared)
        self._backend = None
        self._backend_lock = threading.Lock()
        self._forced_onnx = backend == "onnx" or dtype == "int8"  # auto's ONNX still gives word vectors (torch)

    @classmethod
    def load(cls, model: str | os.PathLike | None = None, **options) -> "Embedder":
        """Same as ``Embedder(model, **options)``: the shape every predictor shares."""
        return cls(model, **options)

    @property
    def backend(self):
        """The inference backend, built once on first use (an ONNX export can take seconds)."""
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    self._backend = build_backend(
                        self.encoder, self.layers, self.pooling, backend=self.backend_name, dtype=self.dtype, from_files=self._owns_encoder
                    )
        return self._backend

    @property
    def max_length(self) -> int:
        return self.encoder.max_length

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
        """One float32 vector per text, row i for ``texts[i]``; thread-safe. # -> (N, D)"""
        texts = _check_texts(texts)
        stats = EmbedStats()
        result = self._embed_chunk(texts, self.backend, stats)
        self.last_stats = stats
        return result

    def embed_stream(self, texts: Iterable[str], chunk_size: int = 8192) -> Iterator[tuple[list[str], np.ndarray]]:
        """Embed an iterable of any length chunk by chunk, so memory stays flat.

        Yields (texts, vectors (n, D)) per chunk of ``chunk_size`` texts, in input order;
        each chunk is sorted by length internally. ``last_stats`` accumulates.
        """
        stats = self.last_stats = EmbedStats()
        chunk: list[str] = []
        for text in texts:
            chunk.append(text)
            if len(chunk) >= chunk_size:
                yield chunk, self._embed_chunk(_check_texts(chunk), self.backend, stats)
                chunk = []
        if chunk:
            yield chunk, self._embed_chunk(_check_texts(chunk), self.backend, stats)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text, special tokens included, before truncation."""
        return self.encoder.count_tokens(_check_texts(texts))

    def check(self, texts: Sequence[str]):
        """Compare this embedder's runtime with torch fp32 on ``texts`` (the ``--check`` gate).

        Returns the :class:`~bertkit.engine.quality.Agreement`; raises UsageError when the
        runtime is int8 and the mean cosine is below ``INT8_MIN_MEAN_COSINE``.
        """
        return self.gate(self.compare(texts))

    def compare(self, texts: Sequence[str]):
        """Agreement (mean and worst cosine) of this runtime's vectors with torch fp32 on ``texts``."""
        from bertkit.embeddings.engine import compare_to_fp32

        return compare_to_fp32(self.encoder, self.layers, self.pooling, self.backend, _check_texts(texts))

    def gate(self, result):
        """The int8 policy on a measured agreement: int8 below the gate is refused."""
        from bertkit.engine.quality import INT8_MIN_MEAN_COSINE

        if self.runtime.dtype == "int8" and result.mean_cosine < INT8_MIN_MEAN_COSINE:
            raise ParameterError(
                "dtype",
                f"int8 refused: mean cosine {result.mean_cosine:.4f} to fp32 on this input is below {INT8_MIN_MEAN_COSINE}; "
                "use dtype fp32 (onnx) or bf16 (torch)",
            )
        return result

    def _embed_chunk(self, texts: list[str], backend, stats: EmbedStats | None = None) -> np.ndarray:
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
        if stats is not None:
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
        rules = self.pooling.window_rules()  # (width, rule) per block, as the pooling states
        groups: list[list[int]] = [[] for _ in range(windows.num_texts)]
        for w, s in enumerate(windows.sample):
            groups[s].append(w)
        return np.stack([combine_windows(window_vecs[g], counts[g], rules) for g in groups])

    def embed_words(self, texts: Sequence[str]) -> list[WordVectors]:
        """Word-level vectors: sub-word piece states (of the selected layers) averaged per word."""
        if self._forced_onnx:
            raise UsageError("word vectors need the torch backend; leave backend='onnx' out")
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


def _check_stride(stride: int, encoder: Encoder) -> None:
    """Windows must advance: the overlap has to stay below the room a window has for text."""
    room = encoder.max_length - encoder.tokenizer.num_special_tokens_to_add(pair=False)
    if not 0 <= stride < room:
        raise UsageError(
            f"stride {stride} (--stride) must be less than max_length {encoder.max_length} (--max-length) minus "
            f"{encoder.max_length - room} special tokens, i.e. at most {room - 1}"
        )


def _runtime_and_encoder(model, encoder: Encoder | None, backend: str, dtype: str, device: str, max_length: int | None):
    """(Runtime, Encoder): resolve ``auto`` (probing the model the first time) and load it.

    A given ``encoder`` is used as it is: with ``auto`` it runs on torch in its own dtype.
    """
    if encoder is not None:
        if backend == "auto" and dtype == "auto":
            return Runtime("torch", encoder.dtype, str(encoder.device), "the encoder passed in"), encoder
        runtime = resolve_runtime(backend, dtype, str(encoder.device) if device == "auto" else device)
        if runtime.backend == "onnx" and encoder.device.type != "cpu":
            raise UsageError(ONNX_ON_GPU)
        return runtime, encoder
    path = resolve_model_dir(model)
    probed: list[Encoder] = []

    def probe(dev: str):
        probed.append(Encoder(path, device=dev, dtype="fp32", max_length=max_length))
        return probe_encoder(probed[0])

    runtime = resolve_runtime(backend, dtype, device, model=model_key(path), probe=probe)
    if probed:  # reuse the probe's model: autocast is the only difference between the dtypes
        probed[0].dtype = runtime.torch_dtype
        return runtime, probed[0]
    # behind ONNX the torch weights are needed only to export (once, then cached)
    lazy = runtime.backend == "onnx"
    return runtime, Encoder(path, device=runtime.device, dtype=runtime.torch_dtype, max_length=max_length, lazy=lazy)
