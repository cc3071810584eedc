"""The ``Tagger`` predictor: a trained tagger directory, texts in, entities out."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bertkit.errors import UsageError
from bertkit.tagging.conll import TagData
from bertkit.tagging.metrics import entity_report
from bertkit.tagging.modeldir import TaggerConfig, load_tagger_model
from bertkit.tagging.schemes import entity_spans
from bertkit.tagging.train import check_known_tags, predict_tags

__all__ = ["Entity", "Tagger", "load_tagger"]


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

    def __init__(self, model, config: TaggerConfig) -> None:
        self.model = model
        self.config = config
        self.labels = list(config.spec.labels)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike | None, *, device: str = "auto", dtype: str = "fp32") -> Tagger:
        if path is None:
            raise UsageError("no tagger is shipped with bertkit; give --model DIR (train one with: bertkit tag train)")
        model, config = load_tagger_model(path, device=device, dtype=dtype)
        return cls(model, config)

    def tag_words(self, words: Sequence[Sequence[str]], batch_size: int = 64) -> tuple[list[list[str]], list[np.ndarray]]:
        """Tags and tag probabilities for pre-split sentences."""
        with self._lock:
            ids, scores = predict_tags(self.model, [list(w) for w in words], batch_size)
        return [[self.labels[i] for i in s] for s in ids], scores

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Entity]]:
        if isinstance(texts, str):
            texts = [texts]
        split = self.model.embedding.split(list(texts))
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


def load_tagger(path: str | os.PathLike | None = None, *, device: str = "auto", dtype: str = "fp32") -> Tagger:
    return Tagger.load(path, device=device, dtype=dtype)
