"""Classifiers on ONNX Runtime: the same probabilities as torch, and the int8 gate."""

import numpy as np
import pytest

from bertkit.classification import evaluate_classifier, load_classifier, train_classifier
from bertkit.classification.data import read_examples
from bertkit.engine.onnx_export import read_export_info
from bertkit.errors import UsageError
from tiny_data import classify_parts


def _train(tiny_bert, train_csv, out, **kw):
    opts = dict(train=str(train_csv), out=str(out), model=str(tiny_bert), dev=str(train_csv), seed=1, patience=0, epochs=1)
    opts.update(kw)
    train_classifier(**classify_parts(**opts))
    return out


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_onnx_ensemble_matches_torch(tiny_bert, train_csv, tmp_path):
    """Every pooling head of a features-mode ensemble (learned poolings included), in one graph."""
    out = _train(tiny_bert, train_csv, tmp_path / "e", mode="features", pooling="all", epochs=2)
    texts = read_examples(str(train_csv)).texts
    torch_probs = load_classifier(out).member_probabilities(texts)
    onnx_clf = load_classifier(out, backend="onnx")
    onnx_probs = onnx_clf.member_probabilities(texts)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)
    info = onnx_clf.group_export(0).info
    assert info.kind == "classifier" and info.labels == onnx_clf.labels and info.outputs == ["probabilities"]


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_onnx_lora_finetune_matches_torch(tiny_bert, train_csv, tmp_path):
    out = _train(tiny_bert, train_csv, tmp_path / "l", pooling="attention", lora=4, lr=1e-2)
    texts = read_examples(str(train_csv)).texts
    np.testing.assert_allclose(load_classifier(out, backend="onnx").predict_proba(texts), load_classifier(out).predict_proba(texts), atol=1e-4)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_onnx_sentence_pairs(tiny_bert, tmp_path):
    from tiny_data import write_rows

    rows = [{"a": f"is the film {w}?", "b": ("yes" if i % 2 else "no") + f", it is {w}", "label": str(i % 2)}
            for i, w in enumerate(["good", "bad", "fine", "poor"] * 3)]
    path = write_rows(tmp_path / "pairs.tsv", rows, "\t")
    out = _train(tiny_bert, path, tmp_path / "p", mode="features", text_column="a", pair_column="b")
    a, b = [r["a"] for r in rows], [r["b"] for r in rows]
    np.testing.assert_allclose(load_classifier(out, backend="onnx").predict_proba(a, b), load_classifier(out).predict_proba(a, b), atol=1e-4)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_int8_refused_when_calibration_labels_drift(tiny_bert, train_csv, tmp_path, monkeypatch):
    import bertkit.classification.engine as engine

    out = _train(tiny_bert, train_csv, tmp_path / "m", mode="features")
    monkeypatch.setattr(engine, "INT8_MAX_METRIC_DROP", -1.0)  # demand more than 100% agreement: always refused
    with pytest.raises(UsageError, match=r"int8 refused for .*calibration texts differently|int8 refused for .*agreement"):
        load_classifier(out, backend="onnx", dtype="int8").predict(["good"])


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_validation_of_backend_and_device(tiny_bert, train_csv, tmp_path):
    out = _train(tiny_bert, train_csv, tmp_path / "m", mode="features")
    with pytest.raises(UsageError, match="int8 runs on backend 'onnx'"):
        load_classifier(out, backend="torch", dtype="int8")
    with pytest.raises(UsageError, match="valid options: auto, torch, onnx"):
        load_classifier(out, backend="tensorrt")
    with pytest.raises(UsageError, match="runs on the CPU"):
        load_classifier(out, backend="onnx", device="cuda")


@pytest.mark.usefixtures("minilm_dir")
@pytest.mark.slow  # a real MiniLM export / several CLI processes: over 5 s on 2 cores
def test_shipped_model_int8_gate_on_evaluate(tmp_path, monkeypatch):
    """The shipped sentiment model passes the int8 gate; a failed evaluate is remembered."""
    from tiny_data import write_rows

    rows = [{"text": t, "label": lab} for t, lab in [
        ("a gorgeous, witty and moving film", "positive"), ("a dull, lifeless mess", "negative"),
        ("the best film of the year", "positive"), ("i hated every minute of it", "negative"),
        ("warm, funny and wise", "positive"), ("boring and far too long", "negative")]]
    data = write_rows(tmp_path / "dev.csv", rows)
    clf = load_classifier(backend="onnx", dtype="int8")
    report = evaluate_classifier(clf, str(data))
    gate = report["int8_gate"]
    assert gate["int8_accuracy"] == report["accuracy"] and gate["fp32_accuracy"] - gate["int8_accuracy"] <= 0.005
    assert clf.group_export(0).info.calibration_agreement == 1.0

    import bertkit.classification.evaluate as evaluate

    monkeypatch.setattr(evaluate, "metric_gate", lambda *a: "its accuracy (%) on dev.csv is 80.00 against 90.00 on fp32")
    with pytest.raises(UsageError, match="int8 refused .* on dev.csv is 80.00"):
        evaluate_classifier(clf, str(data))
    export = clf.group_export(0)
    assert "80.00" in read_export_info(export.directory).refused
    with pytest.raises(UsageError, match="int8 refused .* on dev.csv is 80.00"):  # remembered for later runs
        load_classifier(backend="onnx", dtype="int8").predict(["fine"])
    assert load_classifier(backend="onnx").predict(["a gorgeous film"])[0].label == "positive"  # fp32 is not affected
