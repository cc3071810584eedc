"""Every predictor has the one shape (bertkit.engine.predictor.Predictor): load, runtime,
predict_batch with typed results (to_dict, empty in -> empty out), evaluate -> Report."""

from __future__ import annotations

import json

import pytest
from hf_tiny import CONTEXTS, QUESTIONS, TEXTS, save_checkpoint

from bertkit.engine.predictor import (
    PREDICTOR_METHODS,
    EvalReport,
    Predictor,
    Report,
    Result,
)
from bertkit.engine.runtime import Runtime


@pytest.fixture(scope="module")
def predictors(tiny_bert, tmp_path_factory, one_thread):
    from bertkit import Classifier, Embedder, Reader, Tagger

    root = tmp_path_factory.mktemp("predictors")
    return {
        "embeddings": Embedder.load(tiny_bert, backend="torch", dtype="fp32"),
        "classifier": Classifier.load(save_checkpoint(root / "cls", "classifier"), backend="torch", dtype="fp32"),
        "qa": Reader.load(save_checkpoint(root / "qa", "qa"), backend="torch", dtype="fp32"),
        "tagger": Tagger.load(save_checkpoint(root / "tag", "tagger"), backend="torch", dtype="fp32"),
    }


INPUTS = {
    "embeddings": TEXTS,
    "classifier": TEXTS,
    "qa": list(zip(QUESTIONS, CONTEXTS)),
    "tagger": TEXTS,
}


@pytest.mark.parametrize("task", list(INPUTS))
def test_every_predictor_satisfies_the_protocol(predictors, task):
    predictor = predictors[task]
    assert isinstance(predictor, Predictor)
    assert type(predictor).TASK == task
    assert isinstance(predictor.runtime, Runtime)
    assert all(hasattr(type(predictor), name) or hasattr(predictor, name) for name in PREDICTOR_METHODS)


@pytest.mark.parametrize("task", list(INPUTS))
def test_predict_batch_gives_one_typed_result_per_input(predictors, task):
    results = predictors[task].predict_batch(INPUTS[task], batch_size=2)
    assert len(results) == len(INPUTS[task])
    for result in results:
        assert isinstance(result, Result)
        json.dumps(result.to_dict())  # plain JSON types


@pytest.mark.parametrize("task", list(INPUTS))
def test_empty_input_gives_an_empty_result(predictors, task):
    assert predictors[task].predict_batch([]) == []


def test_evaluate_returns_a_report(predictors, tmp_path):
    emb = predictors["embeddings"].evaluate([("a cat", "a kitten", 5.0), ("a cat", "the stock market", 0.0), ("one", "two", 1.0)])
    assert isinstance(emb, Report) and set(emb.metrics) == {"spearman_cosine"}
    data = tmp_path / "cls.csv"
    data.write_text("text,label\na gorgeous film,positive\na dull mess,negative\nfine,neutral\n")
    report = predictors["classifier"].evaluate(data)
    assert isinstance(report, Report) and 0.0 <= report.metrics["accuracy"] <= 1.0
    assert report["examples"] == 3  # still the dict it was
    conll = tmp_path / "tags.conll"
    conll.write_text("Obama B-PER\nvisited O\nParis B-LOC\n\nHi O\n")
    tags = predictors["tagger"].evaluate(conll)
    assert isinstance(tags, Report) and "f1" in tags.metrics and "strict" in tags.to_dict()


def test_eval_report_is_a_dict_with_headline_metrics():
    report = EvalReport({"accuracy": 0.5, "per_class": {}}, {"accuracy": 0.5})
    assert report["accuracy"] == 0.5 and report.metrics == {"accuracy": 0.5} and report.to_dict() == dict(report)
