"""The Reranker: a cross-encoder that scores (query, passage) pairs and ranks passages.

The same shape as the other predictors: ``Reranker.load(dir, backend=, dtype=, device=)``
(``None`` or ``"default"``: the shipped reranker), ``.runtime``, one batch method
(:meth:`Reranker.score`) and :meth:`Reranker.rank` with typed results.

>>> reranker = Reranker.load()
>>> [r.index for r in reranker.rank("who wrote war and peace?", ["Paris is in France.", "Tolstoy wrote War and Peace."])]
[1, 0]

Thread-safe: the tokenizer's settings never change per call, the model stays in eval
mode, and the ONNX export is built once under a lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bertkit.encoder.encoder import Encoder
from bertkit.engine.loader import load_on_runtime, resolve_source
from bertkit.engine.runtime import Runtime
from bertkit.errors import ParameterError
from bertkit.rerank.config import RerankConfig
from bertkit.rerank.model import RelevanceHead, pair_windows
from bertkit.rerank.modeldir import load_parts

__all__ = ["RankResult", "PairScore", "Reranker", "load_reranker"]


@dataclass(frozen=True)
class RankResult:
    """One document's place: its ``index`` in the input, its ``score`` and (when asked) its text."""

    index: int
    score: float
    text: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PairScore:
    """One (query, passage) pair's relevance: ``score`` after the activation, ``logit`` before."""

    score: float
    logit: float

    def to_dict(self) -> dict:
        return asdict(self)


def _check_pairs(pairs) -> tuple[list[str], list[str]]:
    queries, passages = [], []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise ParameterError("pairs", f"pair {i} must be a (query, passage) pair of strings, got {type(pair).__name__}")
        queries.append(pair[0])
        passages.append(pair[1])
    return queries, passages


class Reranker:
    """A cross-encoder (``[CLS] query [SEP] passage [SEP]`` -> one logit) on torch or ONNX Runtime."""

    TASK = "reranker"

    def __init__(self, path: Path, config: RerankConfig, encoder: Encoder, head: torch.nn.Module, runtime: Runtime) -> None:
        # head: a bertkit PoolingHead, or a transformers checkpoint's own (SequenceLogits)
        self.path, self.config, self.encoder, self.runtime = path, config, encoder, runtime
        self.relevance = RelevanceHead(head).eval()
        self._export = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto") -> "Reranker":
        """Load a reranker directory, or a sentence-transformers CrossEncoder directory
        (``None`` / ``"default"``: the shipped reranker), through the one loader
        (:mod:`bertkit.engine.loader`)."""
        source = resolve_source(None if path is None or str(path) == "default" else path, "reranker")

        def build(dev: str, torch_dtype: str, _runtime=None):
            return load_parts(source, device=dev, dtype=torch_dtype)

        runtime, (config, encoder, head) = load_on_runtime(source, backend, dtype, device, build, lambda built: [built[1]])
        return cls(source.path, config, encoder, head, runtime)

    @property
    def name(self) -> str:
        return self.path.name

    def _backend(self):
        """batch -> logits (B,): the torch head, or the ONNX export (built once)."""
        if self.runtime.backend != "onnx":
            def run(batch) -> np.ndarray:
                with torch.inference_mode():
                    out = self.encoder.forward(batch, hidden_states=self.relevance.needs_hidden_states)
                    return self.relevance(out).cpu().numpy()
            return run
        if self._export is None:
            from bertkit.rerank.engine import build_export

            with self._lock:
                if self._export is None:
                    self._export = build_export(self.encoder, self.relevance.head, dtype=self.runtime.dtype, name=str(self.path))
        return self._export.backend.run

    def logits(self, queries: list[str], passages: list[str], *, batch_size: int = 32, run=None) -> np.ndarray:
        """Raw relevance logits, in input order. # -> (N,) float32"""
        out = np.zeros(len(queries), dtype=np.float32)
        if not queries:
            return out
        windows = pair_windows(self.encoder, queries, passages)
        run = run or self._backend()
        for idx, batch in self.encoder.batches(windows, batch_size):
            out[[windows.sample[w] for w in idx]] = np.asarray(run(batch), dtype=np.float32).reshape(-1)
        return out

    def _activate(self, logits: np.ndarray, raw: bool) -> np.ndarray:
        if raw or self.config.activation == "identity":
            return logits
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)

    def score(self, pairs: Sequence[tuple[str, str]], *, raw: bool = False, batch_size: int = 32) -> np.ndarray:
        """Relevance of each (query, passage) pair, after the model's activation (sigmoid for
        bertkit and default CrossEncoder models; ``raw=True``: the logits). # -> (N,) float32"""
        if batch_size < 1:
            raise ParameterError("batch_size", f"batch_size must be >= 1, got {batch_size}")
        queries, passages = _check_pairs(pairs)
        return self._activate(self.logits(queries, passages, batch_size=batch_size), raw)

    def predict_batch(self, inputs: Sequence[tuple[str, str]], *, batch_size: int | None = None) -> list[PairScore]:
        """One :class:`PairScore` per (query, passage) pair, in input order."""
        queries, passages = _check_pairs(inputs)
        logits = self.logits(queries, passages, batch_size=batch_size or 32)
        return [PairScore(float(s), float(x)) for s, x in zip(self._activate(logits, False), logits)]

    def evaluate(self, data, *, batch_size: int | None = None):
        """MRR@10 and nDCG@10 on labelled pairs (a :class:`~bertkit.rerank.data.Pairs` or a pairs file)."""
        from bertkit.engine.predictor import EvalReport
        from bertkit.rerank.data import Pairs, read_pairs
        from bertkit.rerank.evaluate import evaluate_pairs

        pairs = data if isinstance(data, Pairs) else read_pairs(data)
        result = evaluate_pairs(self, pairs, batch_size=batch_size or 32)
        return EvalReport(result, {"mrr@10": result["mrr@10"], "ndcg@10": result["ndcg@10"]})

    def rank(self, query: str, documents: Sequence[str], top_k: int | None = None, *, raw: bool = False,
             return_documents: bool = True, batch_size: int = 32) -> list[RankResult]:
        """``documents`` ordered by relevance to ``query``, best first (ties keep input order);
        the ``top_k`` best (None: all)."""
        if not isinstance(query, str):
            raise ParameterError("query", f"query must be a string, got {type(query).__name__}")
        if top_k is not None and top_k < 1:
            raise ParameterError("top_k", f"top_k must be >= 1, got {top_k}")
        documents = list(documents)
        scores = self.score([(query, d) for d in documents], raw=raw, batch_size=batch_size)
        order = np.argsort(-scores, kind="stable")[: top_k if top_k is not None else len(documents)]
        return [RankResult(int(i), float(scores[i]), documents[i] if return_documents else None) for i in order]


def load_reranker(path: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto") -> Reranker:
    """Same as :meth:`Reranker.load`."""
    return Reranker.load(path, backend=backend, dtype=dtype, device=device)
