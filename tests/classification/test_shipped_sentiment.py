"""The shipped sentiment model: compact, verified, and right on plain sentences."""

from bertkit.classification import load_classifier
from bertkit.modeldir import default_model_dir


def test_packaged_sentiment_model_is_compact_deltas_on_the_packaged_encoder():
    directory = default_model_dir("classifier")
    files = [f for f in directory.rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) <= 10_000_000  # issue 13's limit
    assert not (directory / "encoder").exists() and (directory / "adapter" / "delta.safetensors").is_file()
    clf = load_classifier(None, backend="torch", dtype="fp32")
    assert clf.config.encoder.source == "default" and clf.config.encoder.adapter == "delta"
    preds = clf.predict(["a gorgeous, witty, seductive movie", "a dull, lifeless mess of a film", "not as bad as I feared"])
    assert [p.label for p in preds] == ["positive", "negative", "positive"]


def test_packaged_sentiment_model_explains_by_occlusion():
    e = load_classifier(None, backend="torch", dtype="fp32").explain("a dull, lifeless mess of a film")
    assert e.method == "occlusion" and e.prediction.label == "negative"
    weights = dict(zip(e.tokens, e.weights))
    assert max(weights, key=weights.get) in {"dull", "lifeless", "mess"}
