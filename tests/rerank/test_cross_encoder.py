"""A sentence-transformers CrossEncoder directory loads as a Reranker with the same scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from bertkit.errors import ModelLoadError
from bertkit.rerank import Reranker

from rerank_fixtures import PASSAGES, QUERIES, save_cross_encoder

PAIRS = [(q, p) for q in QUERIES for p in PASSAGES] + [("a query", "a much longer passage " * 12)]


def test_scores_match_cross_encoder_predict(cross_encoder_dir, one_thread):
    from sentence_transformers import CrossEncoder

    want = CrossEncoder(str(cross_encoder_dir), device="cpu").predict(PAIRS)
    got = Reranker.load(cross_encoder_dir).score(PAIRS)
    assert got.shape == (len(PAIRS),)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.ptp(want) > 1e-3  # the scores differ (well beyond the tolerance): the comparison means something


def test_default_activation_is_sigmoid_as_cross_encoder(cross_encoder_dir):
    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(str(cross_encoder_dir), device="cpu")
    assert isinstance(ce.activation_fn, nn.Sigmoid)
    reranker = Reranker.load(cross_encoder_dir)
    assert reranker.config.activation == "sigmoid"
    raw = reranker.score(PAIRS[:3], raw=True)
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), reranker.score(PAIRS[:3]), atol=1e-6)


def test_rank_order_matches_cross_encoder_rank(cross_encoder_dir):
    from sentence_transformers import CrossEncoder

    ce = CrossEncoder(str(cross_encoder_dir), device="cpu")
    reranker = Reranker.load(cross_encoder_dir)
    for query in QUERIES:
        want = ce.rank(query, PASSAGES)
        got = reranker.rank(query, PASSAGES)
        assert [r.index for r in got] == [w["corpus_id"] for w in want]
        np.testing.assert_allclose([r.score for r in got], [w["score"] for w in want], atol=1e-4)
        assert got[0].text == PASSAGES[got[0].index]
        assert got[0].to_dict() == {"index": got[0].index, "score": got[0].score, "text": got[0].text}


def test_identity_activation_gives_raw_logits(tiny_bert, tmp_path):
    from sentence_transformers import CrossEncoder

    path = save_cross_encoder(tiny_bert, tmp_path / "ce_identity", activation=nn.Identity())
    want = CrossEncoder(str(path), device="cpu").predict(PAIRS)
    reranker = Reranker.load(path)
    assert reranker.config.activation == "identity"
    np.testing.assert_allclose(reranker.score(PAIRS), want, atol=1e-4)


def test_onnx_backend_matches_torch(cross_encoder_dir):
    torch_scores = Reranker.load(cross_encoder_dir, backend="torch", dtype="fp32").score(PAIRS)
    onnx = Reranker.load(cross_encoder_dir, backend="onnx", dtype="fp32")
    assert onnx.runtime.backend == "onnx"
    np.testing.assert_allclose(onnx.score(PAIRS), torch_scores, atol=1e-4)


def test_unsupported_activation_is_refused(cross_encoder_dir, tmp_path):
    import shutil

    copy = tmp_path / "ce_odd"
    shutil.copytree(cross_encoder_dir, copy)
    cfg = json.loads((copy / "config_sentence_transformers.json").read_text())
    cfg["activation_fn"] = "torch.nn.modules.activation.Tanh"
    (copy / "config_sentence_transformers.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="activation .*Tanh.* not supported"):
        Reranker.load(copy)


def test_many_labels_are_refused(tiny_bert, tmp_path):
    from sentence_transformers import CrossEncoder

    CrossEncoder(str(tiny_bert), num_labels=3, device="cpu").save(str(tmp_path / "three"))
    with pytest.raises(ModelLoadError, match="one output"):
        Reranker.load(tmp_path / "three")


@pytest.mark.parametrize("arch", ["tiny_distilbert", "tiny_electra"])
def test_other_architectures_load_through_the_checkpoints_own_head(arch, request, tmp_path, one_thread):
    """Not only BERT's pooler head: the loader's transformers path (the classifier's) serves every family."""
    from sentence_transformers import CrossEncoder

    path = save_cross_encoder(request.getfixturevalue(arch), tmp_path / arch)
    want = CrossEncoder(str(path), device="cpu").predict(PAIRS)
    reranker = Reranker.load(path, backend="torch", dtype="fp32")
    assert reranker.config.training["source"] == "sentence-transformers CrossEncoder"
    np.testing.assert_allclose(reranker.score(PAIRS), want, atol=1e-4)
    assert np.ptp(want) > 1e-3


def test_classifier_load_refuses_a_one_output_cross_encoder(cross_encoder_dir):
    from bertkit import Classifier

    with pytest.raises(ModelLoadError, match="CrossEncoder with one output .* not a classifier; rank with it instead") as info:
        Classifier.load(cross_encoder_dir)
    assert "\n" not in str(info.value)


def test_a_many_label_cross_encoder_is_a_classifier_of_pairs(tiny_bert, tmp_path, one_thread):
    """An NLI-style CrossEncoder (3 labels) loads with Classifier.load and gives CrossEncoder's softmax."""
    from sentence_transformers import CrossEncoder

    from bertkit import Classifier

    torch.manual_seed(1)
    ce = CrossEncoder(str(tiny_bert), num_labels=3, device="cpu")
    with torch.no_grad():
        ce.model.classifier.weight.normal_(0, 3.0)
    ce.save(str(tmp_path / "nli"))
    pairs = PAIRS[:6]
    logits = CrossEncoder(str(tmp_path / "nli"), device="cpu").predict(pairs)  # (N, 3)
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    classifier = Classifier.load(tmp_path / "nli", backend="torch", dtype="fp32")
    got = classifier.predict_proba([q for q, _ in pairs], [p for _, p in pairs])
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.ptp(want) > 1e-2
