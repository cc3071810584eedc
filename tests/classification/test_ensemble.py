"""Ensembles built from separately trained classifiers: copied, verified, soft-voted."""

from __future__ import annotations

import numpy as np
import pytest

from bertkit.classification import load_classifier, train_classifier
from bertkit.classification.ensemble import build_ensemble
from bertkit.classification.modeldir import read_verified
from bertkit.cli.app import main
from bertkit.errors import ParameterError
from tiny_data import classify_parts, sentiment_rows, write_rows


@pytest.fixture(scope="module")
def two_models(tiny_bert, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ens")
    train, dev = write_rows(tmp / "train.csv", sentiment_rows(24)), write_rows(tmp / "dev.csv", sentiment_rows(8))
    dirs = []
    for pooling, mode in (("mean", "features"), ("max", "finetune")):
        out = tmp / f"{pooling}-model"
        train_classifier(**classify_parts(train=str(train), out=str(out), model=str(tiny_bert), dev=str(dev), seed=1, device="cpu",
                                          mode=mode, pooling=pooling, epochs=1))
        dirs.append(out)
    return dirs, tmp


def test_ensemble_is_the_mean_of_its_members(two_models, tmp_path):
    dirs, tmp = two_models
    out = build_ensemble(dirs, tmp_path / "ens")
    config = read_verified(out)
    assert config.kind == "ensemble" and config.members == ["members/mean", "members/max"]
    assert config.encoder.source == "members" and config.training["ensemble_of"] == [str(d) for d in dirs]
    texts = ["a great and moving film", "dull, flat and far too long", "it is a movie"]
    ensemble = load_classifier(out, backend="torch", dtype="fp32", device="cpu")
    members = [load_classifier(d, backend="torch", dtype="fp32", device="cpu") for d in dirs]
    expected = np.mean([m.predict_proba(texts) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(texts), expected, atol=1e-5)
    # the sources are untouched and still load
    assert read_verified(dirs[0]).kind == "single"


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_ensemble_refuses_bad_members(two_models, tmp_path, tiny_bert):
    dirs, tmp = two_models
    with pytest.raises(ParameterError, match="at least two models"):
        build_ensemble(dirs[:1], tmp_path / "one")
    ens = build_ensemble(dirs, tmp_path / "ens")
    with pytest.raises(ParameterError, match="is an ensemble; give its members"):
        build_ensemble([ens, dirs[0]], tmp_path / "nested")
    with pytest.raises(ParameterError, match="exists and is not empty"):
        build_ensemble(dirs, tmp_path / "ens")
    other = tmp_path / "other-labels"
    rows = [{**r, "label": {"pos": "good", "neg": "bad"}[r["label"]]} for r in sentiment_rows(24)]
    train = write_rows(tmp_path / "other.csv", rows)
    train_classifier(**classify_parts(train=str(train), out=str(other), model=str(tiny_bert), dev_split=0.25, seed=1,
                                      device="cpu", mode="features", pooling="mean", epochs=1))
    with pytest.raises(ParameterError, match="members need the same labels"):
        build_ensemble([dirs[0], other], tmp_path / "mixed")
    assert not (tmp_path / "mixed").exists() or not (tmp_path / "mixed" / "manifest.json").exists()


def test_cli_ensemble(two_models, tmp_path, capsys):
    dirs, tmp = two_models
    code = main(["classify", "ensemble", str(dirs[0]), str(dirs[1]), "--out", str(tmp_path / "e")])
    err = capsys.readouterr().err
    assert code == 0 and "an ensemble of 2 members (mean, max)" in err
    code = main(["classify", "ensemble", str(dirs[0]), "--out", str(tmp_path / "e2")])
    err = capsys.readouterr().err
    assert code == 2 and "at least two models" in err and "Traceback" not in err
    code = main(["classify", "ensemble", str(dirs[0]), str(tmp_path / "missing"), "--out", str(tmp_path / "e3")])
    err = capsys.readouterr().err
    assert code == 2 and "missing" in err and "Traceback" not in err
