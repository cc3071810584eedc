"""Training taggers on generated data: features and finetune modes, save/load, predict, resume."""

from __future__ import annotations

import json

import pytest

from bertkit.errors import InputError, ModelLoadError, UsageError
from bertkit.tagging import TagTrainOptions, load_tagger, read_conll, train_tagger
from tiny_conll import sentences, write_conll


def _opts(tiny_bert, train, dev, out, **kw):
    base = dict(train=str(train), dev=str(dev), out=str(out), model=str(tiny_bert), device="cpu", max_length=32, checkpoint_every=0)
    base.update(kw)
    return TagTrainOptions(**base)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_features_bilstm_crf_learns_saves_and_predicts(tiny_bert, train_conll, dev_conll, tmp_path):
    out = tmp_path / "m"
    report = train_tagger(_opts(tiny_bert, train_conll, dev_conll, out, epochs=25, lr=1e-2, lstm_hidden=16, dropout=0.0, patience=0))
    assert report.report["micro"]["f1"] > 0.5  # the tiny random encoder still separates the word identities
    assert report.cache_seconds > 0 and len(report.epoch_seconds) == 25
    files = {p.name for p in out.iterdir()}
    assert {"bertkit.json", "manifest.json", "head.safetensors", "history.json", "training_curves.png", "encoder"} <= files
    assert not (out / ".train").exists()
    tagger = load_tagger(out, device="cpu")
    text = "i met carol smith in new york ."
    ents = tagger.predict([text])[0]
    for e in ents:
        assert text[e.start : e.end] == e.text and 0 < e.score <= 1 and e.type in ("PER", "LOC")
    result = tagger.evaluate(read_conll(dev_conll))
    assert result["conlleval"]["micro"]["f1"] == pytest.approx(report.report["micro"]["f1"])
    assert "strict" in result


def test_finetune_crf_bioes_and_tampering_is_refused(tiny_bert, tmp_path):
    train = write_conll(tmp_path / "t.conll", sentences(12, seed=3, scheme="BIOES"))
    out = tmp_path / "ft"
    report = train_tagger(_opts(tiny_bert, train, train, out, mode="finetune", head="crf", epochs=1, lr=1e-3, batch_size=4))
    config = json.loads((out / "bertkit.json").read_text())
    assert config["spec"]["scheme"] == "BIOES" and config["spec"]["head"] == "crf" and config["encoder_source"] == "included"
    assert report.best_epoch == 1
    tagger = load_tagger(out, device="cpu")
    tags, _ = tagger.tag_words([["i", "met", "bob"]])
    assert len(tags[0]) == 3
    head = out / "head.safetensors"
    head.write_bytes(head.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelLoadError, match="altered"):
        load_tagger(out, device="cpu")


def test_resume_continues_from_checkpoint(tiny_bert, train_conll, dev_conll, tmp_path, monkeypatch):
    from bertkit.training import loop

    out = tmp_path / "r"
    opts = _opts(tiny_bert, train_conll, dev_conll, out, epochs=2, lstm_hidden=8, checkpoint_every=1)
    real = loop.Trainer._run_evaluate
    calls = {"n": 0}

    def dies(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(loop.Trainer, "_run_evaluate", dies)
    with pytest.raises(KeyboardInterrupt):
        train_tagger(opts)
    monkeypatch.setattr(loop.Trainer, "_run_evaluate", real)
    logs = []
    opts.resume = True
    train_tagger(opts, log=logs.append)
    assert any("resumed from checkpoint" in m for m in logs)


def test_bad_options_and_unknown_dev_tags(tiny_bert, train_conll, tmp_path):
    with pytest.raises(UsageError, match="valid options: linear, crf, bilstm, bilstm-crf"):
        TagTrainOptions(train="a", out="b", head="lstm")
    with pytest.raises(UsageError, match="valid options: features, finetune"):
        TagTrainOptions(train="a", out="b", mode="full")
    dev = write_conll(tmp_path / "d.conll", [[("x", "B-ORG")]])
    with pytest.raises(InputError, match="line 3: tag 'B-ORG' never occurs in the training data"):
        train_tagger(_opts(tiny_bert, train_conll, dev, tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_finetune_gets_layer_wise_learning_rates(tiny_bert, train_conll, dev_conll, tmp_path):
    from bertkit.tagging.train import _build
    from bertkit.training import build_param_groups

    opts = _opts(tiny_bert, train_conll, dev_conll, tmp_path / "g", mode="finetune", layer_lr_decay=0.5)
    model = _build(opts, read_conll(train_conll))
    groups = build_param_groups(model, lr=1.0, weight_decay=0.0, layer_lr_decay=0.5, num_layers=3, encoder_prefix="embedding.encoder.")
    rates = sorted({g["lr"] for g in groups})
    assert rates == [0.125, 0.25, 0.5, 1.0]  # embeddings, layers 1..3 (the top layer and the head at lr)
