"""``classify train --mode features --head bilstm|cnn``: networks over cached token states."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bertkit.classification.classifier import load_classifier
from bertkit.classification.features import request_for
from bertkit.classification.model import HeadSpec, PoolingHead
from bertkit.classification.options import ClassifyData, HeadOptions, RunOptions
from bertkit.classification.train import train_classifier
from bertkit.embeddings.pooling import PoolingInput
from bertkit.errors import UsageError


@pytest.mark.parametrize("kind, dim", [("bilstm", 2 * 8), ("cnn", 3 * 8)])
def test_sequence_heads_read_token_states(kind, dim):
    head = PoolingHead(HeadSpec(pooling="max", sequence=kind, sequence_size=8), hidden_size=32, num_layers=3, num_labels=2)
    assert head.pooling.output_dim == dim and head.learned_pooling
    assert request_for(head).kind == "tokens"  # cached token states, not pooled vectors
    tokens, mask = torch.randn(3, 7, 32), torch.tensor([[1] * 7, [1] * 3 + [0] * 4, [1] + [0] * 6])
    logits, _ = head.eval().forward_pooled(PoolingInput(tokens, mask))
    assert logits.shape == (3, 2)
    noisy = tokens.clone()
    noisy[1, 3:] = 1e4  # padding never changes a row
    assert torch.allclose(head.forward_pooled(PoolingInput(noisy, mask))[0], logits, atol=1e-5)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize("kind", ["bilstm", "cnn"])
def test_train_and_predict(kind, tiny_bert, train_csv, dev_csv, tmp_path):
    out = tmp_path / kind
    report = train_classifier(ClassifyData(train=str(train_csv), dev=str(dev_csv)), out, HeadOptions(mode="features", head=kind),
                              RunOptions(epochs=2, device="cpu"), model=tiny_bert)
    assert 0 <= report.rows[0]["accuracy"] <= 1
    clf = load_classifier(out, backend="torch", dtype="fp32", device="cpu")
    probs = clf.predict_proba(["a great film", "an awful, boring film with nothing in it"])
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_head_option_checks():
    with pytest.raises(UsageError, match="valid options: linear, mlp, bilstm, cnn"):
        HeadOptions(head="gru")
    with pytest.raises(UsageError, match="needs --mode features"):
        HeadOptions(head="bilstm")
    with pytest.raises(UsageError, match="cannot use"):
        PoolingHead(HeadSpec(pooling="weighted_layer", sequence="bilstm"), 32, 3, 2)
    assert HeadOptions(head="mlp", mode="features").hidden == 256
