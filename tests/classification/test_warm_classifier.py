"""The warm Classifier gives the full ONNX path's predictions without torch (bertkit.classification.warm),
and falls back (None) when its entry no longer verifies."""

from __future__ import annotations

import numpy as np
import pytest

from bertkit.classification import load_classifier, train_classifier
from bertkit.classification.warm import warm_classifier
from tiny_data import classify_parts

LONG = " ".join(["a lovely, moving and rather long review"] * 80)
TEXTS = ["great", "awful film", "a gorgeous, witty film", LONG, "dull and tedious", "x"]


def _train(tiny_bert, train_csv, out, **kw):
    opts = dict(train=str(train_csv), out=str(out), model=str(tiny_bert), dev=str(train_csv), seed=1, patience=0, epochs=1)
    opts.update(kw)
    train_classifier(**classify_parts(**opts))
    return out


def _same(full, warm, texts=TEXTS):
    np.testing.assert_allclose(warm.predict_proba(texts), full.predict_proba(texts), rtol=0, atol=1e-5)
    for w, f in zip(warm.predict(texts, top_k=2), full.predict(texts, top_k=2)):
        assert w.to_dict()["label"] == f.label and w.labels == f.labels
        assert [name for name, _ in w.top] == [name for name, _ in f.top]
    assert warm.runtime == full.runtime and warm.labels == full.labels


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_features_classifier(tiny_bert, train_csv, tmp_path):
    out = _train(tiny_bert, train_csv, tmp_path / "m", mode="features")
    assert warm_classifier(out, backend="onnx") is None  # nothing recorded yet
    full = load_classifier(out, backend="onnx")
    full.predict(["warm up"])  # the ONNX export is built (and the warm entry recorded) on first use
    warm = warm_classifier(out, backend="onnx")
    assert warm is not None
    _same(full, warm)
    assert warm_classifier(out) is None  # another request (the suite pins torch for auto): its own entry, none yet
    head = out / "head.safetensors"  # a changed head: the entry no longer verifies, the full path runs
    data = bytearray(head.read_bytes())
    data[-1] ^= 1
    head.write_bytes(bytes(data))
    assert warm_classifier(out, backend="onnx") is None


@pytest.mark.slow  # trains on two pooling heads and exports their one graph
def test_features_ensemble_sharing_one_encoder(tiny_bert, train_csv, tmp_path):
    out = _train(tiny_bert, train_csv, tmp_path / "e", mode="features", pooling="mean+max")
    full = load_classifier(out, backend="onnx")
    full.predict(["warm up"])
    _same(full, warm_classifier(out, backend="onnx"))


@pytest.mark.slow  # exports the shipped sentiment model (its MiniLM encoder: tens of seconds)
def test_shipped_sentiment_model():
    full = load_classifier(backend="onnx")
    full.predict(["warm up"])
    warm = warm_classifier(backend="onnx")
    assert warm is not None
    _same(full, warm, TEXTS + ["The plot is a mess and the acting is worse.", "Naïve café owners serve crème brûlée."])
    assert warm.predict(["a gorgeous, witty film"])[0].label == "positive"
