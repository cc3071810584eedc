"""Features-mode head training: standardised features stored in the head, the linear head
solved by L-BFGS with its L2 chosen by cross-validation on the training rows, dev only scored."""

from __future__ import annotations

import pytest
import numpy as np
import torch
from safetensors.torch import load_file

from bertkit.classification import load_classifier, train_classifier
from bertkit.classification.config import read_config
from bertkit.classification.data import read_examples
from tiny_data import classify_parts


def _opts(tiny_bert, train_csv, dev_csv, out, **kw):
    base = dict(train=str(train_csv), out=str(out), model=str(tiny_bert), dev=str(dev_csv), seed=1, device="cpu",
                mode="features", pooling="mean")
    return classify_parts(**{**base, **kw})


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_linear_head_is_standardised_lbfgs(tiny_bert, train_csv, dev_csv, tmp_path):
    logs: list[str] = []
    report = train_classifier(**_opts(tiny_bert, train_csv, dev_csv, tmp_path / "m"), log=logs.append)
    config = read_config(tmp_path / "m")
    assert config.head.standardize and config.metrics["solver"] == "lbfgs"
    assert config.metrics["l2"] > 0 and "held_out_accuracy" in config.metrics
    assert any("chosen by 5-fold cross-validation on train" in m for m in logs)
    assert config.metrics["cv_folds"] == 5
    tensors = load_file(str(tmp_path / "m" / "head.safetensors"))
    assert tensors["feature_std"].min() > 0 and tensors["feature_mean"].abs().sum() > 0
    # The reported dev accuracy is the saved model's accuracy on dev (standardisation applied at prediction).
    clf = load_classifier(tmp_path / "m")
    dev = read_examples(str(dev_csv))
    pred = [clf.labels[i] for i in clf.predict_proba(dev.texts).argmax(axis=1)]
    assert report.rows[0]["accuracy"] == np.mean([p == y for p, y in zip(pred, dev.labels)])


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_linear_head_ignores_feature_scale(tiny_bert, train_csv, dev_csv, tmp_path):
    """Standardised inputs: the solution does not depend on the features' scale (unlike fixed AdamW epochs)."""
    from bertkit.classification.features import FeatureRequest, Features
    from bertkit.classification.headtrain import train_head
    from bertkit.classification.data import LabelMap
    from bertkit.classification.model import HeadSpec, PoolingHead

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    labels = ["a" if v > 0 else "b" for v in x[:, 0] + 0.3 * rng.normal(size=60)]
    from bertkit.classification.data import Examples

    ex = Examples([f"t{i}" for i in range(60)], labels, source="synthetic")
    label_map = LabelMap(("a", "b"))
    run = _opts(tiny_bert, train_csv, dev_csv, tmp_path / "unused")["run"]
    probs = []
    for scale in (1.0, 1000.0):
        feats = Features(FeatureRequest("vectors", pooling="mean"), vectors=x * scale)
        head = PoolingHead(HeadSpec(standardize=True), 8, 2, 2)
        train_head(head, feats, feats, ex, ex, label_map, run, tmp_path / "w", lambda m: None)
        with torch.no_grad():
            probs.append(torch.softmax(head.classify(torch.from_numpy(x * scale)), dim=1).numpy())
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-4)


def test_mlp_head_picks_epoch_on_held_out_rows(tiny_bert, train_csv, dev_csv, tmp_path):
    report = train_classifier(**_opts(tiny_bert, train_csv, dev_csv, tmp_path / "m", hidden=16, epochs=3, patience=0))
    config = read_config(tmp_path / "m")
    assert config.metrics["solver"] == "adamw" and 0 <= config.metrics["best_epoch"] <= 3  # 0: the starting point
    assert report.rows[0]["accuracy"] == config.metrics["dev_accuracy"]


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_attention_head_starts_from_logistic_regression_and_never_ends_worse(tiny_bert, train_csv, dev_csv, tmp_path):
    import json

    logs: list[str] = []
    train_classifier(**_opts(tiny_bert, train_csv, dev_csv, tmp_path / "a", pooling="attention", epochs=2, patience=0), log=logs.append)
    assert any(m.startswith("start: L-BFGS logistic regression on the initial pooling") for m in logs)
    history = json.loads((tmp_path / "a" / "history.json").read_text())
    assert history[0]["epoch"] == 0  # the starting point is scored on the held-out rows like any epoch
    config = read_config(tmp_path / "a")
    assert config.metrics["held_out_accuracy"] == max(h["accuracy"] for h in history)
    assert config.metrics["held_out_accuracy"] >= history[0]["accuracy"]
