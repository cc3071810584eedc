"""The models a server holds, behind the calls the routes need.

Each ``run_*`` method is called from its model's one worker thread (see batching.py),
never from the event loop, so a predictor is never used by two threads at once here.
Token counting for the batcher's budget uses a private copy of the tokenizer, so it
never touches the state of the tokenizer the model runs with.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch

from bertkit.serve.options import ServeOptions

SIMILARITY_POOLINGS = ("cls", "mean", "max", "min", "mean_sqrt_len")  # parameter-free: any encoder
# Padded tokens per forward pass on a CPU: one pass over 32 paragraphs (~8k tokens) runs
# ~1.5x slower than passes of ~2k tokens, whose attention matrices stay in cache (bench/serve.py).
CPU_FORWARD_TOKENS = 2048

__all__ = ["SIMILARITY_POOLINGS", "EmbedModel", "ClassifyModel", "AnswerModel", "TagModel", "ServedModels", "load_models"]


def runtime_of(predictor) -> dict:
    """The predictor's ``.runtime`` (backend, dtype, device, reason) as a dict, for /info."""
    r = predictor.runtime
    return {"backend": r.backend, "dtype": r.dtype, "device": str(r.device), "reason": r.reason}


class TokenCounter:
    """Token counts (special tokens included, before truncation) and token listings."""

    def __init__(self, hf_tokenizer) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
        self._tok.no_truncation()
        self._tok.no_padding()
        self._lock = threading.Lock()

    def count(self, texts: list[str]) -> list[int]:
        with self._lock:
            return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=True)]

    def tokens(self, texts: list[str], add_special_tokens: bool = True) -> list[list[dict]]:
        with self._lock:
            encodings = self._tok.encode_batch(texts, add_special_tokens=add_special_tokens)
        out = []
        for text, e in zip(texts, encodings):
            special = e.special_tokens_mask
            out.append([
                {"id": i, "text": text[s:t] if not sp else tok, "special": bool(sp), "start": None if sp else s, "stop": None if sp else t}
                for i, tok, (s, t), sp in zip(e.ids, e.tokens, e.offsets, special)
            ])
        return out


class EmbedModel:
    """Sentence vectors (truncated or windowed), token vectors and tokens of one encoder."""

    def __init__(self, model: str | None, pooling: str, backend: str, dtype: str, device: str) -> None:
        from bertkit.embeddings.embedder import Embedder

        self.truncating = Embedder(model, pooling=pooling, backend=backend, dtype=dtype, device=device)
        enc, runtime = self.truncating.encoder, self.truncating.runtime
        if enc.device.type == "cpu":  # a merged batch runs as several cache-sized forward passes
            self.truncating.max_batch_tokens = CPU_FORWARD_TOKENS
        self.windowed = Embedder(  # the same encoder and pooling, on the runtime ``auto`` chose
            pooling=pooling, encoder=enc, pooling_module=self.truncating.pooling, long="window",
            backend=runtime.backend, dtype=runtime.dtype, max_batch_tokens=self.truncating.max_batch_tokens,
        )
        self.name = str(model) if model else "all-MiniLM-L6-v2 (packaged)"
        self.pooling = pooling
        self.counter = TokenCounter(enc.tokenizer)
        self._others: dict[str, object] = {}  # pooling -> Embedder, made on first use (worker thread)

    @property
    def max_length(self) -> int:
        return self.truncating.encoder.max_length

    @property
    def dim(self) -> int:
        return self.truncating.dim

    def info(self) -> dict:
        return {"model": self.name, "pooling": self.pooling, "dim": self.dim, "max_length": self.max_length,
                "runtime": runtime_of(self.truncating)}

    def run_embed(self, truncate: bool, texts: list[str]) -> list[np.ndarray]:
        """One unnormalised float32 vector per text. # -> N x (D,)"""
        embedder = self.truncating if truncate else self.windowed
        return list(embedder.embed(texts))

    def embedder_for(self, pooling: str | None):
        """The served embedder, or one with another parameter-free pooling on the same encoder (torch)."""
        if pooling is None or pooling == self.pooling:
            return self.truncating
        if pooling not in SIMILARITY_POOLINGS:
            from bertkit.errors import choice_error

            raise choice_error("pooling", pooling, SIMILARITY_POOLINGS)
        if pooling not in self._others:
            from bertkit.embeddings.embedder import Embedder

            self._others[pooling] = Embedder(pooling=pooling, encoder=self.truncating.encoder, backend="torch", dtype=self.truncating.encoder.dtype)
        return self._others[pooling]

    def run_similarity(self, pooling: str | None, items: list[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each (source, sentence) pair under ``pooling``."""
        texts = list(dict.fromkeys(t for pair in items for t in pair))
        vectors = self.embedder_for(pooling).embed(texts)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        row = {t: i for i, t in enumerate(texts)}
        return [float(vectors[row[a]] @ vectors[row[b]]) for a, b in items]

    def run_tokens(self, truncate: bool, texts: list[str]) -> list[np.ndarray]:
        """Per text, its token vectors from the pooled layers (windows concatenated). # -> N x (T, H)"""
        emb = self.truncating
        enc = emb.encoder
        windows = enc.tokenize(texts, windows=not truncate, stride=0)
        states: list[np.ndarray | None] = [None] * len(windows.features)
        with torch.inference_mode():
            for idx, batch in enc.batches(windows, 32):
                out = enc.forward(batch, hidden_states=not emb.layers.last_only)
                tokens = emb.layers.select(out.hidden_states) if out.hidden_states is not None else out.last_hidden_state
                tokens = tokens.float().cpu().numpy()
                for row, w in enumerate(idx):
                    states[w] = tokens[row, : len(windows.features[w]["input_ids"])]
        per_text: list[list[np.ndarray]] = [[] for _ in texts]
        for w, s in enumerate(windows.sample):
            per_text[s].append(states[w])
        return [np.concatenate(parts) for parts in per_text]


class ClassifyModel:
    """Label probabilities and attention explanations of one classifier directory."""

    def __init__(self, path: str | None, backend: str, dtype: str, device: str) -> None:
        from bertkit.classification.classifier import load_classifier

        self.classifier = load_classifier(path, backend=backend, dtype=dtype, device=device)
        self.name = str(path) if path else "sentiment (shipped)"
        self.labels = list(self.classifier.labels)
        self.pairs = bool(self.classifier.config.pairs)
        self.counter = TokenCounter(self.classifier.groups[0][0].tokenizer)

    def info(self) -> dict:
        return {"model": self.name, "labels": self.labels, "pairs": self.pairs, "runtime": runtime_of(self.classifier)}

    def run_predict(self, key, items: list[tuple[str, str | None]]) -> list[np.ndarray]:
        """Soft-voted probabilities per (text, pair). # -> N x (C,)"""
        texts = [t for t, _ in items]
        pairs = [p for _, p in items] if self.pairs else None
        return list(self.classifier.predict_proba(texts, pairs))

    def run_explain(self, key, items: list[tuple[str, str | None]]) -> list[dict]:
        out = []
        for text, pair in items:
            e = self.classifier.explain(text, pair)
            out.append({"tokens": e.tokens, "weights": [float(w) for w in e.weights], "method": e.method})
        return out


@dataclass
class Question:
    question: str
    context: str
    null_threshold: float | None
    probabilities: bool  # also the per-token start/end probabilities


class AnswerModel:
    """Extractive QA: a :class:`bertkit.Reader`, plus per-token start/end probabilities."""

    def __init__(self, path: str | None, backend: str, dtype: str, device: str) -> None:
        from bertkit.qa.reader import load_reader

        self.reader = load_reader(path, backend=backend, dtype=dtype, device=device)
        self.name = str(path) if path else "qa (shipped, SQuAD 2.0)"
        self.counter = TokenCounter(self.reader.model.wrapped.tokenizer)

    def info(self) -> dict:
        config = self.reader.config
        return {"model": self.name, "version_2": bool(config.version_2), "max_length": self.reader.model.wrapped.max_length,
                "null_threshold": config.null_threshold, "runtime": runtime_of(self.reader)}

    def run_answer(self, null_threshold, items: list[Question]) -> list[dict]:
        """Answers (with up to 20 candidates) for questions sharing one null threshold."""
        from bertkit.qa import token_probabilities
        from bertkit.qa.reader import ReaderAnswer

        preds = self.reader.predictions([q.question for q in items], [q.context for q in items], null_threshold=null_threshold)
        out = []
        for i, (item, d) in enumerate(zip(items, preds.decoded)):
            result = answer_dict(ReaderAnswer.from_decoded(d, 20))
            if item.probabilities:
                tp = token_probabilities(preds, i, self.reader.model.wrapped.tokenizer)
                result["token_probabilities"] = {
                    "tokens": tp.tokens, "spans": [list(s) for s in tp.spans],
                    "start": [float(x) for x in tp.start], "end": [float(x) for x in tp.end],
                }
            out.append(result)
        return out


def _candidate(c) -> dict:
    return {"text": c.text, "start": int(c.start), "end": int(c.end), "score": float(c.score), "probability": float(c.probability)}


def answer_dict(a) -> dict:
    """A :class:`bertkit.ReaderAnswer` as JSON; candidates are the real spans, best first."""
    return {"text": a.text, "start": int(a.start), "end": int(a.end), "score": float(a.score), "probability": float(a.probability),
            "no_answer": bool(a.no_answer), "candidates": [_candidate(c) for c in a.candidates if not c.is_null]}


class TagModel:
    """Named entities (character offsets) from one tagger directory: a :class:`bertkit.Tagger`."""

    def __init__(self, path: str, backend: str, dtype: str, device: str) -> None:
        from bertkit.tagging.tagger import load_tagger

        self.tagger = load_tagger(path, backend=backend, dtype="fp32" if dtype == "int8" else dtype, device=device)  # no int8 tagger
        self.name = str(path)
        self.counter = TokenCounter(self.tagger.model.embedding.runner.tokenizer)

    def info(self) -> dict:
        spec = self.tagger.config.spec
        types = sorted({t.split("-", 1)[1] for t in self.tagger.labels if "-" in t})
        return {"model": self.name, "types": types, "scheme": spec.scheme, "labels": self.tagger.labels,
                "runtime": runtime_of(self.tagger)}

    def run_tag(self, key, items: list) -> list[list[dict]]:
        """Entities per raw text or per word list. # -> N x [{type, text, start, end, score}]"""
        return [[e.to_dict() for e in ents] for ents in self.tagger.predict(items)]


@dataclass
class ServedModels:
    embed: EmbedModel | None = None
    classify: ClassifyModel | None = None
    qa: AnswerModel | None = None
    tag: TagModel | None = None

    def loaded(self) -> list[str]:
        return [name for name in ("embed", "classify", "qa", "tag") if getattr(self, name) is not None]


def load_models(options: ServeOptions) -> ServedModels:
    """Load what ``options`` asks for (the packaged models where no path is given)."""
    models = ServedModels()
    args = (options.backend, options.dtype, options.device)
    if options.serve_embed:
        models.embed = EmbedModel(options.embed, options.pooling, *args)
    if options.serve_classify:
        models.classify = ClassifyModel(options.classify, *args)
    if options.serve_qa:
        models.qa = AnswerModel(options.qa, *args)
    if options.tag is not None:
        models.tag = TagModel(options.tag, *args)
    return models

