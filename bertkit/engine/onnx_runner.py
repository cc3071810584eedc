"""ONNX Runtime without torch: the session settings every ONNX backend uses, and
:class:`TokenizedOnnx`, a tokenizer plus a session that turns texts into a graph's outputs.

:class:`~bertkit.engine.backends.OnnxBackend` (fed the Encoder's padded batches) and the
warm fast path (:mod:`bertkit.engine.fastpath`, which never imports torch or
transformers) open their sessions through :func:`ort_session`, so both run the same
graph with the same options. :class:`TokenizedOnnx` tokenizes as
:meth:`bertkit.encoder.Encoder.tokenize` does for single texts in truncate mode (the
same Rust tokenizer, serialised; long texts cut by :class:`~bertkit.encoder.textcut.PrefixCutter`
first) and batches as :meth:`~bertkit.encoder.Encoder.batches` does (length-sorted,
right-padded), so its outputs are the ONNX backend's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bertkit.encoder.batching import encoding_features, length_sorted_batches, pad_arrays
from bertkit.encoder.textcut import CHARS_PER_TOKEN
from bertkit.io.texts import check_texts

__all__ = ["ort_session", "Tokenized", "TokenizedOnnx"]


def ort_session(path: Path, threads: int | None = None):
    """An ONNX Runtime CPU session: graph optimisation ALL, one intra-op thread per core."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    options.intra_op_num_threads = threads or cores
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass
class Tokenized:
    """Texts as the model reads them: one window each (truncated), in input order."""

    features: list[dict[str, list[int]]]  # per text: the input keys' ids
    truncated: int  # texts cut to max length

    @property
    def lengths(self) -> list[int]:
        return [len(f["input_ids"]) for f in self.features]


class TokenizedOnnx:
    """``run(texts) -> [outputs]``: tokenize, batch, run the exported graph. Thread-safe.

    ``tokenizer_json`` is the serialised Rust tokenizer the Encoder truncates with
    (truncation to ``max_length`` set, padding off); ``input_keys`` are the Encoder's
    (the features' keys, in its order); the graph is fed those of them it kept.
    """

    def __init__(
        self, tokenizer_json: str, model: Path, input_keys: Sequence[str], *, max_length: int, pad_token_id: int,
        cut_prefixes: bool = True, threads: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.max_length = int(max_length)
        self.pad_token_id = int(pad_token_id)
        self.input_keys = list(input_keys)
        self.session = ort_session(model, threads)
        graph_inputs = {i.name for i in self.session.get_inputs()}  # an input the model ignores is pruned by the export
        self.input_names = [n for n in self.input_keys if n in graph_inputs]
        self.cut_prefixes = cut_prefixes  # the Encoder cuts only when it truncates on the right
        specials = len(self.tokenizer.encode("", add_special_tokens=True).ids)
        self._cut_above = max(1, self.max_length - specials) * CHARS_PER_TOKEN  # PrefixCutter leaves shorter texts as they are
        self._cutter = None  # built on the first text that long (parsing the tokenizer again costs ~0.1 s)
        self._lock = threading.Lock()

    def tokenize(self, texts: Sequence[str]) -> Tokenized:
        """One truncated window per text, as ``Encoder.tokenize(texts)`` gives."""
        texts = check_texts(texts)
        if self.cut_prefixes and any(len(t) > self._cut_above for t in texts):
            texts = self._prefix_cutter().cut(texts)  # a 50 MB line: only a prefix is tokenised, with the same tokens
        if not texts:
            return Tokenized([], 0)
        features, truncated = encoding_features(self.tokenizer.encode_batch(texts, add_special_tokens=True), self.input_keys)
        return Tokenized(features, truncated)

    def _prefix_cutter(self):
        if self._cutter is None:
            from bertkit.encoder.textcut import PrefixCutter

            with self._lock:
                if self._cutter is None:
                    self._cutter = PrefixCutter(self.tokenizer, self.max_length)
        return self._cutter

    def run(self, tokenized: Tokenized, batch_size: int, max_tokens: int | None = None, bar=None) -> list[np.ndarray]:
        """Every graph output for every text, row i for text i. # -> each (N, ...) float32"""
        outputs: list[np.ndarray] | None = None
        for idx in length_sorted_batches(tokenized.lengths, batch_size, max_tokens):
            batch = pad_arrays([tokenized.features[i] for i in idx], self.pad_token_id, self.input_keys, 1, self.max_length)
            got = self.session.run(None, {n: batch[n] for n in self.input_names})
            if outputs is None:
                outputs = [np.zeros((len(tokenized.features), *o.shape[1:]), dtype=np.float32) for o in got]
            for out, o in zip(outputs, got):
                out[idx] = o
            if bar is not None:
                bar.update(len(idx), tokens=int(batch["attention_mask"].sum()))
        return outputs or []
