"""The warm Embedder: a cached ONNX export embedded without torch or transformers.

:class:`~bertkit.embeddings.embedder.Embedder` records a warm entry
(:mod:`bertkit.engine.fastpath`) whenever it runs an ONNX export built from its model
directory's files; :func:`warm_embedder` finds that entry for the same request and
returns a :class:`WarmEmbedder` that gives the Embedder's vectors (the same tokenizer,
batches, graph and normalisation) with ``tokenizers`` + ``onnxruntime`` + numpy only, or
None when anything is missing or cannot be verified (then use the Embedder).

Covered: texts in truncate mode, any pooling and layers baked into the graph, the
directory's Normalize (or ``normalize``), ``do_lower_case``. Word vectors, windows,
Dense steps and ``--check`` always take the Embedder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bertkit.engine.fastpath import WarmEntry, WarmStart, file_records, find_warm_start, is_recorded, save_entry, warm_key
from bertkit.engine.onnx_runner import TokenizedOnnx
from bertkit.io.progress import progress_bar
from bertkit.io.texts import check_texts

__all__ = ["EmbedStats", "WarmEmbedder", "warm_request", "warm_embedder", "record_embedder"]

TASK = "embeddings"


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


def warm_request(model, *, pooling=None, layers="-1", normalize=None, max_length=None, layer_start=None) -> tuple[Path, dict]:
    """(model directory, options): what an Embedder's vectors depend on, as the warm key reads it."""
    if model is None:
        from bertkit.modeldir.paths import default_model_dir

        model = default_model_dir()
    options = {"pooling": pooling, "layers": str(layers), "normalize": normalize, "max_length": max_length, "layer_start": layer_start}
    return Path(model).expanduser(), options


class WarmEmbedder:
    """The Embedder's ``embed`` / ``embed_stream`` over a verified warm entry. Thread-safe."""

    def __init__(self, start: WarmStart, *, batch_size: int = 32, max_batch_tokens: int | None = None, progress=False) -> None:
        entry = start.entry
        self.runtime = start.runtime
        self.source: str = entry.details["source"]
        self.dim: int = int(entry.details["dim"])
        self.normalize: bool = bool(entry.details["normalize"])
        self.lowercase: bool = bool(entry.details["lowercase"])
        self.max_length = entry.max_length
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.progress = progress
        self.last_stats = EmbedStats()
        self._runner = TokenizedOnnx(entry.tokenizer, start.model_path, entry.input_keys, max_length=entry.max_length,
                                     pad_token_id=entry.pad_token_id, cut_prefixes=entry.cut_prefixes)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 vector per text, row i for ``texts[i]``. # -> (N, D)"""
        stats = EmbedStats()
        result = self._embed_chunk(check_texts(texts), stats)
        self.last_stats = stats
        return result

    def embed_stream(self, texts: Iterable[str], chunk_size: int = 8192) -> Iterator[tuple[list[str], np.ndarray]]:
        """(texts, vectors (n, D)) per chunk of ``chunk_size`` texts, in input order; ``last_stats`` accumulates."""
        stats = self.last_stats = EmbedStats()
        chunk: list[str] = []
        done = 0
        for text in texts:
            chunk.append(text)
            if len(chunk) >= chunk_size:
                yield chunk, self._embed_chunk(check_texts(chunk, start=done), stats)
                done += len(chunk)
                chunk = []
        if chunk:
            yield chunk, self._embed_chunk(check_texts(chunk, start=done), stats)

    def _embed_chunk(self, texts: list[str], stats: EmbedStats) -> np.ndarray:
        start = time.perf_counter()
        tokenized = self._runner.tokenize([t.lower() for t in texts] if self.lowercase else texts)
        bar = progress_bar(self.progress, total=len(texts), desc="embedding", counts_as=len(texts))
        outputs = self._runner.run(tokenized, self.batch_size, self.max_batch_tokens, bar)
        bar.close()
        vectors = outputs[0] if outputs else np.zeros((0, self.dim), dtype=np.float32)  # (N, D)
        if self.normalize:  # the Normalize step, as bertkit.embeddings.st_format.apply_steps computes it
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        stats.texts += len(texts)
        stats.tokens += int(sum(tokenized.lengths))
        stats.truncated += tokenized.truncated
        stats.seconds += time.perf_counter() - start
        return vectors.astype(np.float32, copy=False)


def warm_embedder(
    model: str | os.PathLike | None = None, *, pooling: str | None = None, layers: str | int = "-1", normalize: bool | None = None,
    max_length: int | None = None, long: str = "truncate", backend: str = "auto", dtype: str = "auto", device: str = "auto",
    batch_size: int = 32, max_batch_tokens: int | None = None, progress=False,
) -> WarmEmbedder | None:
    """The warm Embedder for these options, or None (then build an :class:`Embedder`)."""
    if long != "truncate":
        return None
    path, options = warm_request(model, pooling=pooling, layers=layers, normalize=normalize, max_length=max_length)
    start = find_warm_start(TASK, path, options, backend, dtype, device)
    if start is None:
        return None
    try:
        return WarmEmbedder(start, batch_size=batch_size, max_batch_tokens=max_batch_tokens, progress=progress)
    except Exception:  # noqa: BLE001 - a session or tokenizer that will not load: the full path says why
        return None


def record_embedder(request: tuple[Path, dict], asked: tuple[str, str, str], embedder, backend) -> bool:
    """Record what ``embedder`` runs on its ONNX ``backend`` for :func:`warm_embedder` (``request``:
    :func:`warm_request`'s; ``asked``: the backend, dtype and device it was given); False
    when it is not a warm-able pipeline (a Dense step, a slow tokenizer) or the cache is read-only."""
    from bertkit.embeddings.st_format import NORMALIZE
    from bertkit.engine.export_info import read_export_info

    encoder = embedder.encoder
    settings = encoder.tokenizer_settings()
    if settings is None or any(step != NORMALIZE for step in embedder.steps):
        return False
    export_dir = backend.path.parent
    info = backend.info or read_export_info(export_dir)  # build_backend read and verified it already
    path, options = request
    key = warm_key(TASK, path, options, *asked)
    if is_recorded(key, TASK, export_dir.name, info.content_hash):
        return True
    roots, files = file_records([path, encoder.path])
    entry = WarmEntry(
        TASK, [embedder.runtime.backend, embedder.runtime.dtype], str(encoder.path), export_dir.name, info.content_hash,
        details={"source": embedder.source, "dim": int(embedder.dim), "normalize": bool(embedder.normalize),
                 "lowercase": bool(embedder.lowercase)},
        sources=roots, files=files, **settings,
    )
    return save_entry(key, entry)
