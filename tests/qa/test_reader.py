"""The Reader: typed answers, the shared predictor shape, and 8 threads giving the serial answers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from qa_tiny_squad import CONTEXTS, QAS

import bertkit
from bertkit.encoder import Encoder
from bertkit.errors import InputError, ParameterError
from bertkit.qa.engine import SpanEngine
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig
from bertkit.qa.reader import Reader, ReaderAnswer

CONFIG = QAConfig(max_length=32, doc_stride=8, max_question_length=12, version_2=True)


@pytest.fixture(scope="module")
def reader(tiny_bert, one_thread):
    torch.manual_seed(0)
    model = QAModel(Encoder(tiny_bert, device="cpu", max_length=CONFIG.max_length))
    runtime = bertkit.Runtime("torch", "fp32", "cpu", "asked")
    return Reader(model, CONFIG, SpanEngine(model, CONFIG), runtime)


def test_eight_threads_give_the_serial_answers(reader):
    questions, contexts = [q for _, q, _ in QAS], [CONTEXTS[c] for c, _, _ in QAS]
    jobs = [(questions[i:] + questions[:i], contexts[i:] + contexts[:i]) for i in range(len(questions))] * 4
    serial = [reader.answer(q, c, top_k=3) for q, c in jobs]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda job: reader.answer(*job, top_k=3), jobs))
    assert parallel == serial
    assert not reader.model.training


def test_answers_are_typed_and_point_into_the_context(reader):
    questions, contexts = [q for _, q, _ in QAS], [CONTEXTS[c] for c, _, _ in QAS]
    for answer, context in zip(reader.answer(questions, contexts, top_k=2), contexts):
        assert isinstance(answer, ReaderAnswer) and len(answer.candidates) <= 2
        if answer.no_answer:
            assert answer.text is None and answer.start == answer.end == -1
        else:
            assert context[answer.start : answer.end] == answer.text
    never_null = reader.answer(questions[:1], contexts[:1], null_threshold=float("inf"))[0]
    assert not never_null.no_answer


def test_bad_calls_name_the_parameter(reader):
    with pytest.raises(ParameterError, match="top_k must be >= 1"):
        reader.answer(["q"], ["c"], top_k=0)
    with pytest.raises(ParameterError, match="2 questions but 1 contexts") as err:
        reader.answer(["q", "r"], ["c"])
    assert err.value.param == "contexts"
    with pytest.raises(InputError, match="question 2: empty question"):
        reader.answer(["q", " "], ["c", "d"])


def test_load_the_shipped_reader():
    reader = bertkit.load_reader()
    assert (reader.runtime.backend, reader.runtime.dtype) == ("torch", "fp32")  # pinned by the suite
    answer = reader.answer(["Who wrote War and Peace?"], ["War and Peace was written by Leo Tolstoy in 1869."])[0]
    assert answer.text == "Leo Tolstoy" and (answer.start, answer.end) == (29, 40) and 0 < answer.probability <= 1
