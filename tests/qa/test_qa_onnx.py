"""QA on ONNX Runtime: the same logits and answers as torch, and the int8 F1 gate."""

import numpy as np
import pytest
import torch
from qa_tiny_squad import CONTEXTS, QAS, squad_dict, write_squad

from bertkit.encoder import Encoder
from bertkit.engine.onnx_export import read_export_info
from bertkit.errors import UsageError
from bertkit.qa.engine import SpanEngine
from bertkit.qa.evaluate import evaluate_squad
from bertkit.qa.features import build_features
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig
from bertkit.qa.predict import answer_questions, window_logits
from bertkit.qa.squad import read_squad

CONFIG = dict(max_length=32, doc_stride=8, max_question_length=12)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))


@pytest.fixture()
def model(tiny_bert):
    torch.manual_seed(0)
    return QAModel(Encoder(tiny_bert, device="cpu", max_length=CONFIG["max_length"])).eval()


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_onnx_logits_and_answers_match_torch(model):
    config = QAConfig(**CONFIG)
    questions, contexts = [q for _, q, _ in QAS], [CONTEXTS[c] for c, _, _ in QAS]
    features = build_features(model.wrapped, questions, contexts, doc_stride=config.doc_stride, max_question_length=12)
    assert len(features) > len(questions)  # long contexts take several windows
    engine = SpanEngine(model, config, backend="onnx")
    assert engine.export.info.kind == "span" and engine.export.info.outputs == ["start_logits", "end_logits"]
    ref, got = window_logits(model, features), window_logits(model, features, engine=engine)
    for a, b in zip(ref[0] + ref[1], got[0] + got[1]):
        np.testing.assert_allclose(b, a, atol=1e-4)
    want = answer_questions(model, config, questions, contexts).decoded
    have = answer_questions(model, config, questions, contexts, engine=engine).decoded
    spans = lambda decoded: [(d.answer.text, d.answer.start, d.answer.end) if d.answer else None for d in decoded]  # noqa: E731
    assert spans(have) == spans(want)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_int8_gate_calibrates_then_remembers_a_failed_evaluate(model, tmp_path, monkeypatch):
    import bertkit.qa.engine as qa_engine
    import bertkit.qa.evaluate as qa_evaluate

    config = QAConfig(**CONFIG)
    monkeypatch.setattr(qa_engine, "metric_gate", lambda *a: None)  # a random tiny model: pass calibration
    engine = SpanEngine(model, config, backend="onnx", dtype="int8", name="tiny")
    assert 0.0 <= engine.export.info.calibration_f1 <= 100.0  # measured on the calibration questions
    data = read_squad(write_squad(tmp_path / "dev.json", squad_dict(version_2=True)))
    monkeypatch.setattr(qa_evaluate, "metric_gate", lambda *a: "its F1 on these 5 questions is 10.00 against 20.00 on fp32")
    with pytest.raises(UsageError, match="int8 refused for tiny: its F1 on these 5 questions"):
        evaluate_squad(model, config, data, engine=engine)
    assert "10.00" in read_export_info(engine.export.directory).refused
    with pytest.raises(UsageError, match="int8 refused for tiny"):
        SpanEngine(model, config, backend="onnx", dtype="int8", name="tiny")


def test_int8_refused_when_calibration_f1_drops(model, monkeypatch):
    import bertkit.qa.engine as qa_engine

    monkeypatch.setattr(qa_engine, "calibration_f1", lambda m, c, e: 80.0 if e is None else 70.0)
    with pytest.raises(UsageError, match=r"F1 on the calibration questions is 70.00 against 80.00 on fp32 \(10.00 points lower"):
        SpanEngine(model, QAConfig(**CONFIG), backend="onnx", dtype="int8")


def test_engine_validation(model):
    config = QAConfig(**CONFIG)
    with pytest.raises(UsageError, match="int8 runs on backend 'onnx'"):
        SpanEngine(model, config, backend="torch", dtype="int8")
    with pytest.raises(UsageError, match="valid options: torch, onnx"):
        SpanEngine(model, config, backend="openvino")
