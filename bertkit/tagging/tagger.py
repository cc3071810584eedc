"""The ``Tagger`` predictor: a trained tagger directory, texts in, entities out.

It loads bertkit's tagger directories and transformers ``AutoModelForTokenClassification``
checkpoints as they are (:mod:`bertkit.engine.loader`), and has the shape of every
predictor (:class:`bertkit.engine.predictor.Predictor`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bertkit.engine.loader import load_on_runtime, resolve_source
from bertkit.engine.predictor import EvalReport
from bertkit.engine.runtime import AUTO, Runtime, check_names, resolve_runtime
from bertkit.errors import UsageError
from bertkit.tagging.conll import TagData, read_conll
from bertkit.tagging.metrics import entity_report
from bertkit.tagging.modeldir import TaggerConfig, load_hf_tagger, load_tagger_model
from bertkit.tagging.schemes import entity_spans
from bertkit.tagging.train import check_known_tags, predict_tags

__all__ = ["NO_INT8", "Entity", "TaggedText", "Tagger", "load_tagger", "resolve_tagger_runtime"]

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


@dataclass
class TaggedText:
    """One text's entities (the result of :meth:`Tagger.predict_batch`)."""

    text: str
    entities: list[Entity]

    def to_dict(self) -> dict:
        return {"text": self.text, "entities": [e.to_dict() for e in self.entities]}


class Tagger:
    """``Tagger.load(path).predict(["Obama visited Paris"])`` -> entities per text. Thread-safe."""

    TASK: ClassVar[str] = "tagger"

    def __init__(self, model, config: TaggerConfig, runtime: Runtime | None = None) -> None:
        self.model = model
        self.config = config
        self.labels = list(config.spec.labels)
        runner = model.embedding.runner
        self.runtime = runtime or Runtime("torch", runner.dtype, str(runner.device), "asked")
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls, path: str | os.PathLike | None = None, *, backend: str = AUTO, dtype: str = AUTO, device: str = AUTO
    ) -> Tagger:
        """Load a tagger directory (bertkit's, or a transformers ``AutoModelForTokenClassification``
        checkpoint as it is); ``auto`` as for every predictor (:mod:`bertkit.engine.runtime`):
        torch bf16 autocast where the CPU/GPU runs bf16 natively and the probe finds it keeps
        the outputs, else ONNX Runtime fp32 on a CPU (torch fp32 on a GPU or with backend torch).
        On ONNX only the encoder pass runs there; int8 is not offered."""
        source = resolve_source(path, "tagger")  # None: refused, no tagger is shipped
        loader = load_hf_tagger if source.format == "hf-task" else load_tagger_model

        def build(dev: str, torch_dtype: str, _runtime=None):
            return loader(source.path, device=dev, dtype=torch_dtype)

        runtime, (model, config) = load_on_runtime(
            source, backend, dtype, device, build, lambda built: [built[0].embedding.runner], resolve=resolve_tagger_runtime
        )
        if runtime.backend == "onnx":  # the encoder pass on ONNX Runtime; words, BiLSTM and CRF in torch
            from bertkit.tagging.onnx import onnx_states

            model.embedding.states_fn = onnx_states(model.embedding, name=str(source.path))
        return cls(model, config, runtime)

    def tag_words(
        self, words: Sequence[Sequence[str]], batch_size: int = 64, progress=False
    ) -> tuple[list[list[str]], list[np.ndarray]]:
        """Tags and tag probabilities for pre-split sentences (``progress``: a bool or a JobProgress)."""
        if len(words) == 0:
            return [], []
        with self._lock:
            ids, scores = predict_tags(self.model, [list(w) for w in words], batch_size, progress)
        return [[self.labels[i] for i in s] for s in ids], scores

    def predict(self, texts: Sequence[str] | Sequence[Sequence[str]], batch_size: int = 64, progress=False) -> list[list[Entity]]:
        """Entities per raw text (split into words like the tokenizer does), or per pre-split
        word list; for word lists, offsets index the words joined by single spaces."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return []
        split = self.model.embedding.split(texts)
        if split.offsets is None:
            texts, split.offsets = _joined(split.words)
        tags, scores = self.tag_words(split.words, batch_size, progress)
        result = []
        for text, offsets, sent_tags, sent_scores in zip(texts, split.offsets, tags, scores):
            entities = []
            for kind, a, b in entity_spans(sent_tags, "conlleval", self.config.spec.scheme):
                start, end = offsets[a][0], offsets[b - 1][1]
                entities.append(Entity(kind, text[start:end], start, end, float(np.mean(sent_scores[a:b]))))
            result.append(entities)
        return result

    def predict_batch(self, inputs: Sequence[str], *, batch_size: int | None = None) -> list[TaggedText]:
        """The protocol's batch method (:class:`bertkit.engine.predictor.Predictor`): one
        :class:`TaggedText` per raw text."""
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        return [TaggedText(t, e) for t, e in zip(texts, self.predict(texts, batch_size or 64))]

    def evaluate(self, data: TagData | str | os.PathLike, batch_size: int | None = None, progress=False) -> EvalReport:
        """Entity P/R/F1 per type and micro, conlleval-style and strict (a CoNLL file or TagData).
        The report is the dict it always was; ``.metrics`` holds the micro scores."""
        if not isinstance(data, TagData):
            data = read_conll(data)
        check_known_tags(data, self.labels)
        pred, _ = self.tag_words(data.words, batch_size or 64, progress)
        scheme = self.config.spec.scheme
        report = {
            "sentences": len(data), "words": data.num_words,
            "conlleval": entity_report(data.tags, pred, mode="conlleval", scheme=scheme),
            "strict": entity_report(data.tags, pred, mode="strict", scheme=scheme),
        }
        micro = report["conlleval"]["micro"]
        headline = {f"{k}": v for k, v in micro.items() if isinstance(v, (int, float))}
        headline.update({f"strict_{k}": v for k, v in report["strict"]["micro"].items() if isinstance(v, (int, float))})
        return EvalReport(report, headline)


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
