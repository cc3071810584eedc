"""Training a reranker on the shared Trainer: model directory, deltas, resume, listwise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bertkit.errors import BertkitError, ModelLoadError, ParameterError
from bertkit.rerank import Reranker
from bertkit.rerank.data import read_pairs
from bertkit.rerank.train import RerankTrainArgs, query_batches, train_reranker


def _args(tiny_bert, **kw):
    return RerankTrainArgs(**{"model": str(tiny_bert), "max_length": 48, "epochs": 2, "lr": 1e-3, "batch_size": 4,
                              "train_layers": None, "delta": None, "device": "cpu", "checkpoint_every": 0, **kw})


@pytest.mark.parametrize("loss", ["bce", "listwise"])
def test_train_and_load(tiny_bert, pairs_file, tmp_path, one_thread, loss):
    pairs = read_pairs(pairs_file)
    report = train_reranker(pairs, pairs, tmp_path / "rr", _args(tiny_bert, loss=loss))
    assert report.best_epoch in (1, 2) and set(report.metrics) == {"loss", "mrr@10", "ndcg@10"}
    config = json.loads((tmp_path / "rr" / "bertkit.json").read_text())
    assert config["task"] == "rerank" and config["encoder"]["source"] == "included"
    assert len(json.loads((tmp_path / "rr" / "history.json").read_text())) == 2
    reranker = Reranker.load(tmp_path / "rr")
    scores = reranker.score(list(zip(pairs.queries, pairs.passages)))
    assert scores.shape == (len(pairs),) and np.all((scores > 0) & (scores < 1))
    assert reranker.evaluate(pairs).metrics["ndcg@10"] == pytest.approx(report.metrics["ndcg@10"], abs=1e-3)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_deltas_against_the_packaged_encoder(pairs_file, tmp_path, one_thread):
    pairs = read_pairs(pairs_file)
    args = RerankTrainArgs(max_length=32, epochs=1, batch_size=6, train_layers=1, delta="int8", device="cpu", checkpoint_every=0)
    train_reranker(pairs, None, tmp_path / "rr", args)
    config = json.loads((tmp_path / "rr" / "bertkit.json").read_text())
    assert config["encoder"] == {"source": "default", "base_sha256": config["encoder"]["base_sha256"], "adapter": "delta"}
    assert (tmp_path / "rr" / "adapter" / "delta.safetensors").stat().st_size < 2_500_000  # one layer, int8
    assert not (tmp_path / "rr" / "encoder").exists()
    assert Reranker.load(tmp_path / "rr").rank(pairs.queries[0], pairs.passages[:4])[0].score > 0


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_resume_continues_from_the_checkpoint(tiny_bert, pairs_file, tmp_path, one_thread, monkeypatch):
    import bertkit.rerank.train as train_module

    pairs = read_pairs(pairs_file)
    full = train_reranker(pairs, pairs, tmp_path / "a", _args(tiny_bert))
    real, calls = train_module.bce_loss, []

    def dying(logits, labels):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # killed mid-epoch 1, after the checkpoint of step 2
        return real(logits, labels)

    monkeypatch.setattr(train_module, "bce_loss", dying)
    with pytest.raises(KeyboardInterrupt):
        train_reranker(pairs, pairs, tmp_path / "b", _args(tiny_bert, checkpoint_every=2))
    monkeypatch.setattr(train_module, "bce_loss", real)
    lines = []
    resumed = train_reranker(pairs, pairs, tmp_path / "b", _args(tiny_bert, checkpoint_every=2, resume=True), log=lines.append)
    assert any("resumed from checkpoint" in line for line in lines)
    assert resumed.metrics["ndcg@10"] == pytest.approx(full.metrics["ndcg@10"], abs=1e-4)
    monkeypatch.setattr(train_module, "bce_loss", dying)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        train_reranker(pairs, pairs, tmp_path / "c", _args(tiny_bert, checkpoint_every=2))
    monkeypatch.setattr(train_module, "bce_loss", real)
    with pytest.raises(BertkitError, match="lr"):  # other arguments than the checkpoint's are refused
        train_reranker(pairs, pairs, tmp_path / "c", _args(tiny_bert, checkpoint_every=2, lr=5e-4, resume=True))


def test_bad_arguments(tiny_bert, pairs_file, tmp_path):
    with pytest.raises(ParameterError, match=r"loss: .*bce.*listwise"):
        RerankTrainArgs(loss="pairwise")
    with pytest.raises(ParameterError) as exc:
        RerankTrainArgs(lr=0)
    assert exc.value.param == "lr"
    pairs = read_pairs(pairs_file)
    pairs.labels[0] = 3.0
    with pytest.raises(ParameterError, match=r"\[0, 1\]"):
        train_reranker(pairs, None, tmp_path / "x", _args(tiny_bert))


def test_query_batches_keep_queries_whole():
    groups = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    batches = query_batches(groups, [5] * 12, 8, seed=0, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(12))
    assert all(len(b) % 4 == 0 for b in batches)
    assert batches == query_batches(groups, [5] * 12, 8, seed=0, epoch=0)


def test_altered_directory_is_refused(tiny_bert, pairs_file, tmp_path, one_thread):
    train_reranker(read_pairs(pairs_file), None, tmp_path / "rr", _args(tiny_bert, epochs=1))
    config = tmp_path / "rr" / "bertkit.json"
    config.write_text(config.read_text().replace('"sigmoid"', '"identity"'))
    with pytest.raises(ModelLoadError, match="manifest|changed|altered"):
        Reranker.load(tmp_path / "rr")
