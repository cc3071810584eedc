import numpy as np
import pytest

from bertkit.classification import compact_classifier, load_classifier, train_classifier
from bertkit.errors import ParameterError, UsageError
from tiny_data import classify_parts, sentiment_rows, write_rows

TEXTS = ["a great film", "a dull and tired mess", "not bad at all"]


@pytest.fixture(scope="module")
def full_model(tmp_path_factory):
    """A classifier fine-tuned on the packaged MiniLM (top layer only, to keep it quick), stored whole."""
    tmp = tmp_path_factory.mktemp("compact")
    train = write_rows(tmp / "train.csv", sentiment_rows(24))
    out = tmp / "full"
    train_classifier(**classify_parts(train=str(train), dev=str(train), out=str(out), pooling="mean", epochs=1, lr=1e-3,
                                      batch_size=8, train_layers=1, max_length=16, seed=1, patience=0, device="cpu"))
    return out


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("delta,atol", [("fp16", 1e-3), ("int4", 0.05)])
def test_compact_keeps_the_predictions(full_model, tmp_path, delta, atol):
    out = compact_classifier(full_model, tmp_path / delta, delta)
    assert (full_model / "encoder").is_dir() and not (out / "encoder").exists()
    small = load_classifier(out, backend="torch", dtype="fp32")
    assert small.config.encoder.adapter == "delta" and small.config.training["delta"] == delta
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert size < 4_000_000  # one MiniLM layer's deltas (3.5 MB in fp16), not a 90 MB encoder
    full = load_classifier(full_model, backend="torch", dtype="fp32")
    np.testing.assert_allclose(small.predict_proba(TEXTS), full.predict_proba(TEXTS), atol=atol)


def test_compact_refuses_what_it_cannot_shrink(full_model, tmp_path):
    small = compact_classifier(full_model, tmp_path / "small", "int8")
    with pytest.raises(ParameterError, match="fully fine-tuned classifier with its own encoder/"):
        compact_classifier(small, tmp_path / "again", "int8")  # already deltas
    with pytest.raises(ParameterError, match="exists and is not empty"):
        compact_classifier(full_model, small, "int8")
    with pytest.raises(UsageError, match="valid options: fp16, int8, int4"):
        compact_classifier(full_model, tmp_path / "x", "int2")
