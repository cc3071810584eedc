"""The Reader: a loaded QA model ready to answer questions about contexts.

The same shape as :class:`~bertkit.Embedder` and :class:`~bertkit.classification.Classifier`:
one ``load(...)`` taking ``path``, ``backend``, ``dtype``, ``device``; one batch method
(:meth:`Reader.answer`) returning typed results; ``.runtime`` saying what runs and why.

>>> reader = Reader.load()   # the shipped SQuAD 2.0 model, backend/dtype "auto"
>>> reader.answer(["Who wrote War and Peace?"], ["War and Peace was written by Leo Tolstoy."])[0].text
'Leo Tolstoy'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from bertkit.engine.runtime import Runtime, model_key, probe_encoder, resolve_runtime
from bertkit.errors import ParameterError
from bertkit.qa.decode import Candidate, Decoded
from bertkit.qa.engine import SpanEngine
from bertkit.qa.evaluate import EvalResult, evaluate_squad
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig, load_qa_model, read_config
from bertkit.qa.predict import Predictions, answer_questions, check_questions
from bertkit.qa.squad import SquadData

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


class Reader:
    """Extractive QA over a loaded model on torch (fp32/bf16/fp16) or ONNX Runtime (fp32/int8).

    Thread-safe: one object can answer from many threads at once.
    """

    def __init__(self, model: QAModel, config: QAConfig, engine: SpanEngine, runtime: Runtime, name: str = "the QA model") -> None:
        self.model, self.config, self.engine, self.runtime, self.name = model, config, engine, runtime, name
        self.model.eval()  # once, here: answering never toggles modes

    @classmethod
    def load(
        cls, path: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto"
    ) -> "Reader":
        """Load a QA model directory (``None``: the shipped SQuAD 2.0 model).

        ``auto`` picks the fastest runtime that keeps the outputs (bertkit.engine.runtime);
        ``dtype="int8"`` runs ONNX int8, refused for a model whose F1 it lowers.
        """
        directory, _ = read_config(path)
        probed: list[tuple[QAModel, QAConfig]] = []

        def probe(dev: str):
            probed.append(load_qa_model(directory, device=dev, dtype="fp32"))
            return probe_encoder(probed[0][0].wrapped)

        runtime = resolve_runtime(backend, dtype, device, model=model_key(directory), probe=probe)
        if probed:
            model, config = probed[0]
            model.wrapped.dtype = runtime.torch_dtype  # bf16 is autocast over the fp32 weights
        else:
            model, config = load_qa_model(directory, device=runtime.device, dtype=runtime.torch_dtype)
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
        contexts: Sequence[str],
        *,
        top_k: int = 1,
        null_threshold: float | None = None,
        batch_size: int = 32,
        progress: bool = False,
    ) -> list[ReaderAnswer]:
        """One :class:`ReaderAnswer` per (question, context), in input order."""
        if top_k < 1:
            raise ParameterError("top_k", f"top_k must be >= 1, got {top_k}")
        preds = self.predictions(
            questions, contexts, n_best=max(20, top_k), null_threshold=null_threshold, batch_size=batch_size, progress=progress
        )
        return [ReaderAnswer.from_decoded(d, top_k) for d in preds.decoded]

    def evaluate(self, data: SquadData, *, null_threshold: float | None = None, batch_size: int = 32, progress: bool = False) -> EvalResult:
        """The official SQuAD metric on ``data`` (with int8, also the gate against torch fp32)."""
        return evaluate_squad(
            self.model, self.config, data, batch_size=batch_size, null_threshold=null_threshold, progress=progress,
            engine=self.engine,
        )


def load_reader(
    path: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto"
) -> Reader:
    """Same as :meth:`Reader.load`."""
    return Reader.load(path, backend=backend, dtype=dtype, device=device)
