import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from bertkit.classification import ClassifyData, HeadOptions, RunOptions, load_classifier, train_classifier
from bertkit.classification.data import read_examples
from bertkit.classification.modeldir import load_head
from bertkit.errors import ModelLoadError, UsageError
from tiny_data import classify_parts


def _opts(tiny_bert, train_csv, out, **kw):
    # device cpu: the seeded outcomes asserted here are those of the CPU's random numbers
    base = dict(train=str(train_csv), out=str(out), model=str(tiny_bert), dev=str(train_csv), seed=1, patience=0, device="cpu")
    base.update(kw)
    return classify_parts(**base)


def _train_accuracy(model_dir, train_csv):
    clf = load_classifier(model_dir)
    ex = read_examples(str(train_csv))
    pred = clf.predict_proba(ex.texts).argmax(axis=1)
    return float(np.mean([clf.labels[p] == y for p, y in zip(pred, ex.labels)]))


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_finetune_overfits_small_set(tiny_bert, train_csv, tmp_path, pooling="attention"):
    report = train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "m", pooling=pooling, epochs=12, lr=3e-3, batch_size=8, dropout=0.0))
    assert report.rows[0]["accuracy"] == 1.0
    assert _train_accuracy(tmp_path / "m", train_csv) == 1.0
    assert (tmp_path / "m" / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "m" / ".train").exists()


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("pooling", ["mean", "weighted_layer"])
def test_features_mode_overfits_small_set(tiny_bert, train_csv, tmp_path, pooling):
    opts = _opts(tiny_bert, train_csv, tmp_path / "f", mode="features", pooling=pooling, epochs=80, lr=1e-2, dropout=0.0, hidden=64, batch_size=8)
    report = train_classifier(**opts)
    assert report.rows[0]["accuracy"] == 1.0
    assert _train_accuracy(tmp_path / "f", train_csv) == 1.0


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_features_cache_hit_and_miss(tiny_bert, train_csv, dev_csv, tmp_path):
    logs: list[str] = []
    opts = _opts(tiny_bert, train_csv, tmp_path / "f", dev=str(dev_csv), mode="features", pooling="mean", epochs=2)
    train_classifier(**opts, log=logs.append)
    assert sum("feature cache miss" in m for m in logs) == 2 and not any("cache hit" in m for m in logs)
    cached = sorted((tmp_path / "cache" / "features").glob("*.safetensors"))
    assert len(cached) == 2  # train and dev
    logs.clear()
    train_classifier(**opts, log=logs.append)
    assert sum("feature cache hit" in m for m in logs) == 2 and not any("cache miss" in m for m in logs)
    # A different max length, pooling or data is a miss.
    logs.clear()
    train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "g", mode="features", pooling="max", epochs=1), log=logs.append)
    assert any("cache miss" in m for m in logs)
    logs.clear()
    train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "g", mode="features", pooling="mean", epochs=1, max_length=8), log=logs.append)
    assert any("cache miss" in m for m in logs)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_pooling_all_ensemble_is_mean_of_members(tiny_bert, train_csv, dev_csv, tmp_path):
    report = train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "e", dev=str(dev_csv), mode="features", pooling="all", epochs=3))
    names = [r["pooling"] for r in report.rows]
    assert names[-1] == "ensemble" and {"cls", "mean", "max", "min", "mean_sqrt_len", "weighted_layer", "attention"} <= set(names)
    assert (tmp_path / "e" / "comparison.png").is_file()
    clf = load_classifier(tmp_path / "e")
    texts = read_examples(str(dev_csv)).texts
    members = clf.member_probabilities(texts)
    assert members.shape == (len(names) - 1, len(texts), 2)
    np.testing.assert_allclose(clf.predict_proba(texts), members.mean(axis=0), atol=1e-6)
    # Each member, loaded on its own over the shared encoder, gives the same probabilities.
    encoder = clf.groups[0][0]
    from bertkit.classification.config import read_config
    from bertkit.classification.classifier import Classifier

    for k, name in enumerate(clf.member_names):
        mdir = tmp_path / "e" / "members" / name
        config = read_config(mdir)
        alone = Classifier(mdir, config, [(encoder, [load_head(mdir, config, encoder)])], [name])
        np.testing.assert_allclose(alone.predict_proba(texts), members[k], atol=1e-6)


def test_freeze_epochs_leave_encoder_unchanged(tiny_bert, train_csv, tmp_path):
    train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "z", epochs=1, freeze_epochs=1, lr=1e-2))
    base = load_file(str(tiny_bert / "model.safetensors"))
    saved = load_file(str(tmp_path / "z" / "encoder" / "model.safetensors"))
    for key, value in saved.items():
        name = key if key in base else key.removeprefix("bert.")
        assert torch.equal(value, base[name]), key
    head = load_file(str(tmp_path / "z" / "head.safetensors"))
    assert any(float(v.abs().sum()) > 0 for v in head.values())


def test_unfrozen_epoch_changes_encoder(tiny_bert, train_csv, tmp_path):
    train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "u", epochs=2, freeze_epochs=1, lr=1e-2, layer_lr_decay=0.5))
    base = load_file(str(tiny_bert / "model.safetensors"))
    saved = load_file(str(tmp_path / "u" / "encoder" / "model.safetensors"))
    assert any(not torch.equal(v, base[k]) for k, v in saved.items() if k in base)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_lora_stores_only_adapters(tiny_bert, train_csv, tmp_path):
    train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "l", pooling="attention", epochs=2, lora=4, lr=1e-2))
    files = {p.relative_to(tmp_path / "l").as_posix() for p in (tmp_path / "l").rglob("*") if p.is_file()}
    assert "adapter/adapter_model.safetensors" in files and "encoder/model.safetensors" in files
    config = json.loads((tmp_path / "l" / "bertkit.json").read_text())
    assert config["encoder"] == {"source": "included", "base_sha256": None, "adapter": "lora"}
    # The included encoder is the untouched base; the adapters carry the change.
    base = load_file(str(tiny_bert / "model.safetensors"))
    saved = load_file(str(tmp_path / "l" / "encoder" / "model.safetensors"))
    assert all(torch.equal(v, base[k]) for k, v in saved.items())
    clf = load_classifier(tmp_path / "l")
    bf16 = load_classifier(tmp_path / "l", dtype="bf16")
    np.testing.assert_allclose(bf16.predict_proba(["a great film"]), clf.predict_proba(["a great film"]), atol=0.05)
    explanation = clf.explain("a great film")
    assert explanation.tokens[0] == "[CLS]" and sum(explanation.weights) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_explain_without_attention_pooling_uses_occlusion(tiny_bert, train_csv, tmp_path):
    train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "m", mode="features", epochs=1))
    clf = load_classifier(tmp_path / "m")
    e = clf.explain("a great film, not a dull one")
    assert e.method == "occlusion" and e.tokens[0] == "[CLS]" and e.tokens[-1] == "[SEP]"
    assert len(e.weights) == len(e.tokens) and e.weights[0] == e.weights[-1] == 0.0
    assert any(w != 0.0 for w in e.weights[1:-1])
    assert e.prediction.probabilities == pytest.approx(dict(zip(clf.labels, clf.predict_proba(["a great film, not a dull one"])[0].tolist())), abs=1e-6)
    onnx = load_classifier(tmp_path / "m", backend="onnx", dtype="fp32").explain("a great film, not a dull one")
    np.testing.assert_allclose(onnx.weights, e.weights, atol=1e-4)  # occlusion runs on torch behind ONNX too


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_altered_or_incomplete_directory_refused(tiny_bert, train_csv, tmp_path):
    out = tmp_path / "m"
    train_classifier(**_opts(tiny_bert, train_csv, out, mode="features", epochs=1))
    load_classifier(out)
    head = out / "head.safetensors"
    original = head.read_bytes()
    head.write_bytes(original[:-4] + b"\x00\x00\x00\x01")
    with pytest.raises(ModelLoadError, match="head.safetensors was altered"):
        load_classifier(out)
    head.unlink()
    with pytest.raises(ModelLoadError, match="incomplete model directory, head.safetensors is missing"):
        load_classifier(out)
    head.write_bytes(original)
    config_path = out / "bertkit.json"
    config = json.loads(config_path.read_text())
    config["colour"] = "blue"
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="bertkit.json was altered"):  # the manifest covers the config
        load_classifier(out)
    config_path.unlink()
    with pytest.raises(ModelLoadError, match="incomplete model directory, bertkit.json is missing"):
        load_classifier(out)
    (out / "manifest.json").unlink()
    with pytest.raises(ModelLoadError, match="is not a bertkit classifier model directory"):
        load_classifier(out)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_sentence_pairs_use_token_types(tiny_bert, tmp_path):
    from tiny_data import write_rows

    rows = [{"a": f"is the film {w}?", "b": ("yes" if i % 2 else "no") + f", it is {w}", "label": str(i % 2)}
            for i, w in enumerate(["good", "bad", "fine", "poor", "great", "awful"] * 3)]
    path = write_rows(tmp_path / "pairs.tsv", rows, "\t")
    data = ClassifyData(train=str(path), dev=str(path), text_column="a", pair_column="b")
    train_classifier(data, tmp_path / "p", HeadOptions(mode="features"), RunOptions(epochs=2, patience=0), model=tiny_bert)
    clf = load_classifier(tmp_path / "p")
    assert clf.config.pairs is True
    windows = clf.groups[0][0].tokenize(["is it good?"], ["yes"])
    assert set(windows.features[0]["token_type_ids"]) == {0, 1}
    assert clf.predict_proba(["is it good?"], ["yes"]).shape == (1, 2)
    long_first = " ".join(["very"] * 300) + " good?"  # longer than max length on its own: cut longest-first
    assert clf.predict_proba([long_first], ["yes"]).shape == (1, 2)
    with pytest.raises(UsageError, match="sentence pairs"):
        clf.predict_proba(["is it good?"])


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_finetune_pooling_all_ensemble_has_one_encoder_per_member(tiny_bert, train_csv, dev_csv, tmp_path):
    report = train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "fe", dev=str(dev_csv), pooling="all", epochs=1, checkpoint_every=0))
    clf = load_classifier(tmp_path / "fe")
    assert len(clf.groups) == len(report.rows) - 1 and all(len(heads) == 1 for _, heads in clf.groups)
    texts = read_examples(str(dev_csv)).texts
    np.testing.assert_allclose(clf.predict_proba(texts), clf.member_probabilities(texts).mean(axis=0), atol=1e-6)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_top_layers_stored_as_int8_deltas_against_the_packaged_encoder(train_csv, tmp_path):
    from bertkit.encoder.loading import load_model

    out = tmp_path / "d"
    train_classifier(**_opts(None, train_csv, out, model=None, pooling="mean", epochs=1, lr=1e-3, batch_size=8,
                             train_layers=1, delta="int8", max_length=16))
    config = json.loads((out / "bertkit.json").read_text())
    assert config["encoder"]["source"] == "default" and config["encoder"]["adapter"] == "delta"
    assert not (out / "encoder").exists()
    stored = load_file(str(out / "adapter" / "delta.safetensors"))
    matrices = {k for k, v in stored.items() if v.dtype == torch.int8}
    assert matrices and all(".layer.5." in k for k in stored)  # only the top layer changed
    assert all(k + ":scale" in stored for k in matrices)
    # Loading adds the dequantized deltas to the base: within half an int8 step of each row.
    clf = load_classifier(out)
    tuned, base = clf.groups[0][0].model.state_dict(), load_model(None).model.state_dict()
    for name in matrices:
        step = stored[name + ":scale"].float()[:, None]
        assert torch.count_nonzero(tuned[name] - base[name]) > 0
        torch.testing.assert_close(tuned[name] - base[name], stored[name].float() * step, atol=1e-6, rtol=1e-5)
    assert all(torch.equal(tuned[k], base[k]) for k in base if ".layer.5." not in k)
    ex = read_examples(str(train_csv))
    assert clf.predict_proba(ex.texts).shape == (len(ex.texts), 2)


def test_delta_needs_the_packaged_base(tiny_bert, train_csv, tmp_path):
    with pytest.raises(UsageError, match="delta needs the packaged all-MiniLM-L6-v2"):
        train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "x", delta="fp16", epochs=1))
    with pytest.raises(UsageError, match="train_layers 9 exceeds"):
        train_classifier(**_opts(tiny_bert, train_csv, tmp_path / "x", train_layers=9, epochs=1))
