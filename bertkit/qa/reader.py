"""The Reader: a loaded QA model ready to answer questions about contexts.

The shape every predictor has (:class:`bertkit.engine.predictor.Predictor`): one
``load(...)`` taking the source, ``backend``, ``dtype``, ``device`` (a bertkit QA directory
or a transformers ``AutoModelForQuestionAnswering`` one, through
:mod:`bertkit.engine.loader`); one batch method (:meth:`Reader.answer`, and
``predict_batch`` over ``(question, context)`` pairs) returning typed results;
``.runtime`` saying what runs and why.

>>> reader = Reader.load()   # the shipped SQuAD 2.0 model, backend/dtype "auto"
>>> reader.answer(["Who wrote War and Peace?"], ["War and Peace was written by Leo Tolstoy."])[0].text
'Leo Tolstoy'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import ClassVar

from bertkit.engine.loader import load_on_runtime, resolve_source
from bertkit.engine.runtime import Runtime
from bertkit.errors import ParameterError
from bertkit.qa.decode import Candidate, Decoded
from bertkit.qa.engine import SpanEngine
from bertkit.qa.evaluate import EvalResult, evaluate_squad
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig, load_hf_qa_model, load_qa_model, read_config
from bertkit.qa.predict import Predictions, answer_questions, check_questions
from bertkit.qa.squad import SquadData, read_squad

__all__ = ["ReaderAnswer", "Reader", "load_reader"]


@dataclass(frozen=True)
class ReaderAnswer:
    """One question's answer: ``text`` None (and ``start == end == -1``) means "no answer"."""

    text: str | None
    start: int  # character offsets into the context
    end: int
    score: float  # start + end logit of the answer (of the null answer when there is none)
    probability: float  # softmax over the n-best candidates
    no_answer: bool
    candidates: list[Candidate]  # the top_k candidates, best first (the null one included for SQuAD 2.0 models)
    null_score: float = 0.0  # the "no answer" score; null_score - best span score is the null odds

    @classmethod
    def from_decoded(cls, decoded: Decoded, top_k: int) -> "ReaderAnswer":
        answer = decoded.answer
        if answer is None:
            null = next((c for c in decoded.candidates if c.is_null), None)
            score, prob = (null.score, null.probability) if null else (decoded.null_score, 1.0)
            return cls(None, -1, -1, score, prob, True, decoded.candidates[:top_k], decoded.null_score)
        return cls(answer.text, answer.start, answer.end, answer.score, answer.probability, False,
                   decoded.candidates[:top_k], decoded.null_score)

    def to_dict(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end, "score": self.score, "probability": self.probability,
                "no_answer": self.no_answer, "null_score": self.null_score, "candidates": [asdict(c) for c in self.candidates]}


class Reader:
    """Extractive QA over a loaded model on torch (fp32/bf16/fp16) or ONNX Runtime (fp32/int8).

    Thread-safe: one object can answer from many threads at once.
    """

    TASK: ClassVar[str] = "qa"

    def __init__(self, model: QAModel, config: QAConfig, engine: SpanEngine, runtime: Runtime, name: str = "the QA model") -> None:
        self.model, self.config, self.engine, self.runtime, self.name = model, config, engine, runtime, name
        self.model.eval()  # once, here: answering never toggles modes

    @classmethod
    def load(
        cls, path: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto"
    ) -> "Reader":
        """Load a QA model directory (``None``: the shipped SQuAD 2.0 model), bertkit's own or a
        transformers ``AutoModelForQuestionAnswering`` checkpoint as it is.

        ``auto`` picks the fastest runtime that keeps the outputs (bertkit.engine.runtime);
        ``dtype="int8"`` runs ONNX int8, refused for a model whose F1 it lowers.
        """
        source = resolve_source(path, "qa")
        if source.format == "hf-task":
            def build(dev: str, torch_dtype: str, _runtime=None):
                return load_hf_qa_model(source.path, device=dev, dtype=torch_dtype)
        else:
            directory, _ = read_config(source.path)  # verified before the runtime is chosen

            def build(dev: str, torch_dtype: str, _runtime=None):
                return load_qa_model(directory, device=dev, dtype=torch_dtype)

        runtime, (model, config) = load_on_runtime(source, backend, dtype, device, build, lambda built: [built[0].wrapped])
        name = str(path) if path is not None else "the shipped QA model"
        engine = SpanEngine(model, config, backend=runtime.backend, dtype=runtime.dtype, name=name)
        return cls(model, config, engine, runtime, name)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def predictions(
        self,
        questions: Sequence[str],
        contexts: Sequence[str],
        *,
        n_best: int = 20,
        null_threshold: float | None = None,
        batch_size: int = 32,
        progress: bool = False,
    ) -> Predictions:
        """The raw predictions (decoded spans, windows, logits), e.g. for token probabilities."""
        questions, contexts = check_questions(questions, contexts)
        return answer_questions(
            self.model, self.config, questions, contexts, batch_size=batch_size, n_best=n_best,
            null_threshold=null_threshold, progress=progress, engine=self.engine,
        )

    def answer(
        self,
        questions: Sequence[str],
        contexts: Sequence[str] | None = None,
        *,
        top_k: int = 1,
        null_threshold: float | None = None,
        batch_size: int = 32,
        progress: bool = False,
        index=None,
        rerank=None,
        passages: int = 5,
    ):
        """One :class:`ReaderAnswer` per (question, context), in input order; or, given an
        ``index`` instead of contexts, one :class:`~bertkit.qa.open_domain.OpenAnswer` per
        question, read from its retrieved (and ``rerank``-ed) ``passages`` (see :mod:`bertkit.qa.open_domain`)."""
        if index is not None or contexts is None:
            from bertkit.qa.open_domain import answer_open

            if index is None or contexts is not None:
                raise ParameterError("index", "give either contexts or an index to retrieve them from (index=...)", "contexts")
            return answer_open(self, questions, index, rerank=rerank, passages=passages, null_threshold=null_threshold, batch_size=batch_size)
        if top_k < 1:
            raise ParameterError("top_k", f"top_k must be >= 1, got {top_k}")
        if not isinstance(questions, str) and not isinstance(contexts, str) and len(questions) == 0 and len(contexts) == 0:
            return []  # nothing to answer
        preds = self.predictions(
            questions, contexts, n_best=max(20, top_k), null_threshold=null_threshold, batch_size=batch_size, progress=progress
        )
        return [ReaderAnswer.from_decoded(d, top_k) for d in preds.decoded]

    def predict_batch(self, inputs: Sequence[tuple[str, str]], *, batch_size: int | None = None, top_k: int = 1) -> list[ReaderAnswer]:
        """The protocol's batch method (:class:`bertkit.engine.predictor.Predictor`) over
        ``(question, context)`` pairs. # -> one ReaderAnswer per pair"""
        pairs = [tuple(x) for x in inputs]
        if any(len(x) != 2 for x in pairs):
            raise ParameterError("inputs", "each input must be a (question, context) pair")
        return self.answer([q for q, _ in pairs], [c for _, c in pairs], top_k=top_k, batch_size=batch_size or 32)

    def evaluate(self, data: SquadData | str | os.PathLike, *, null_threshold: float | None = None, batch_size: int | None = None,
                 progress: bool = False) -> EvalResult:
        """The official SQuAD metric on ``data`` (SquadData or a SQuAD JSON file; with int8, also
        the gate against torch fp32). ``EvalResult.metrics`` holds the metric, ``to_dict()`` all of it."""
        if not isinstance(data, SquadData):
            data = read_squad(data)
        batch_size = batch_size or 32
        return evaluate_squad(
            self.model, self.config, data, batch_size=batch_size, null_threshold=null_threshold, progress=progress,
            engine=self.engine,
        )


def load_reader(
    path: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto"
) -> Reader:
    """Same as :meth:`Reader.load`."""
    return Reader.load(path, backend=backend, dtype=dtype, device=device)
