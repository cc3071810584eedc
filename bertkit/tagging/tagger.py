"""The ``Tagger`` predictor: a trained tagger directory, texts in, entities out."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bertkit.engine.runtime import AUTO, Runtime, check_names, model_key, probe_encoder, resolve_runtime
from bertkit.errors import UsageError
from bertkit.tagging.conll import TagData
from bertkit.tagging.metrics import entity_report
from bertkit.tagging.modeldir import TaggerConfig, load_tagger_model
from bertkit.tagging.schemes import entity_spans
from bertkit.tagging.train import check_known_tags, predict_tags

__all__ = ["NO_INT8", "Entity", "Tagger", "load_tagger", "resolve_tagger_runtime"]

NO_INT8 = "the tagger has no int8 export (torch: fp32, bf16, fp16 on a GPU; onnx: fp32)"


@dataclass
class Entity:
    type: str
    text: str
    start: int  # character offsets into the text (end exclusive)
    end: int
    score: float  # mean probability of the entity's tags (CRF: marginals)

    def to_dict(self) -> dict:
        return {"type": self.type, "text": self.text, "start": self.start, "end": self.end, "score": round(self.score, 6)}


class Tagger:
    """``Tagger.load(path).predict(["Obama visited Paris"])`` -> entities per text. Thread-safe."""

    def __init__(self, model, config: TaggerConfig, runtime: Runtime | None = None) -> None:
        self.model = model
        self.config = config
        self.labels = list(config.spec.labels)
        runner = model.embedding.runner
        self.runtime = runtime or Runtime("torch", runner.dtype, str(runner.device), "asked")
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, path: str | os.PathLike | None, *, backend: str = AUTO, dtype: str = AUTO, device: str = AUTO
    ) -> Tagger:
        """Load a tagger directory; ``auto`` as for every predictor (:mod:`bertkit.engine.runtime`):
        torch bf16 autocast where the CPU/GPU runs bf16 natively and the probe finds it keeps
        the outputs, else ONNX Runtime fp32 on a CPU (torch fp32 on a GPU or with backend torch).
        On ONNX only the encoder pass runs there; int8 is not offered."""
        if path is None:
            raise UsageError("no tagger is shipped with bertkit; give --model DIR (train one with: bertkit tag train)")
        path = Path(path).expanduser()
        probed: list = []

        def probe(dev: str):
            probed.append(load_tagger_model(path, device=dev, dtype="fp32"))
            return probe_encoder(probed[0][0].embedding.runner)

        runtime = resolve_tagger_runtime(backend, dtype, device, model=model_key(path), probe=probe)
        if probed:  # loaded in fp32 by the probe; bf16 is autocast over the same weights
            model, config = probed[0]
            model.embedding.runner.dtype = runtime.torch_dtype
        else:
            model, config = load_tagger_model(path, device=runtime.device, dtype=runtime.torch_dtype)
        if runtime.backend == "onnx":  # the encoder pass on ONNX Runtime; words, BiLSTM and CRF in torch
            from bertkit.tagging.onnx import onnx_states

            model.embedding.states_fn = onnx_states(model.embedding, name=str(path))
        return cls(model, config, runtime)

    def tag_words(self, words: Sequence[Sequence[str]], batch_size: int = 64) -> tuple[list[list[str]], list[np.ndarray]]:
        """Tags and tag probabilities for pre-split sentences."""
        with self._lock:
            ids, scores = predict_tags(self.model, [list(w) for w in words], batch_size)
        return [[self.labels[i] for i in s] for s in ids], scores

    def predict(self, texts: Sequence[str] | Sequence[Sequence[str]], batch_size: int = 64) -> list[list[Entity]]:
        """Entities per raw text (split into words like the tokenizer does), or per pre-split
        word list; for word lists, offsets index the words joined by single spaces."""
        if isinstance(texts, str):
            texts = [texts]
        split = self.model.embedding.split(list(texts))
        if split.offsets is None:
            texts, split.offsets = _joined(split.words)
        tags, scores = self.tag_words(split.words, batch_size)
        result = []
        for text, offsets, sent_tags, sent_scores in zip(texts, split.offsets, tags, scores):
            entities = []
            for kind, a, b in entity_spans(sent_tags, "conlleval", self.config.spec.scheme):
                start, end = offsets[a][0], offsets[b - 1][1]
                entities.append(Entity(kind, text[start:end], start, end, float(np.mean(sent_scores[a:b]))))
            result.append(entities)
        return result

    def evaluate(self, data: TagData, batch_size: int = 64) -> dict:
        """Entity P/R/F1 per type and micro, conlleval-style and strict."""
        check_known_tags(data, self.labels)
        pred, _ = self.tag_words(data.words, batch_size)
        scheme = self.config.spec.scheme
        return {
            "sentences": len(data), "words": data.num_words,
            "conlleval": entity_report(data.tags, pred, mode="conlleval", scheme=scheme),
            "strict": entity_report(data.tags, pred, mode="strict", scheme=scheme),
        }


def _joined(word_lists: list[list[str]]) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """Word lists as texts joined by single spaces, with each word's character span."""
    texts, offsets = [], []
    for words in word_lists:
        spans, at = [], 0
        for w in words:
            spans.append((at, at + len(w)))
            at += len(w) + 1
        texts.append(" ".join(words))
        offsets.append(spans)
    return texts, offsets


def resolve_tagger_runtime(backend: str = AUTO, dtype: str = AUTO, device: str = AUTO, **kwargs) -> Runtime:
    """:func:`bertkit.engine.runtime.resolve_runtime` without int8: asking for it is refused
    (one line), and a fleet-wide ``BERTKIT_DTYPE=int8`` means fp32 for the tagger."""
    check_names(backend, dtype)
    if dtype == "int8":
        raise UsageError(f"dtype 'int8': {NO_INT8}; use --dtype fp32 or auto")
    if dtype == AUTO and os.environ.get("BERTKIT_DTYPE") == "int8":
        dtype = "fp32"
    return resolve_runtime(backend, dtype, device, **kwargs)


def load_tagger(
    path: str | os.PathLike | None = None, *, backend: str = AUTO, dtype: str = AUTO, device: str = AUTO
) -> Tagger:
    """Same as :meth:`Tagger.load`."""
    return Tagger.load(path, backend=backend, dtype=dtype, device=device)
