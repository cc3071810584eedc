"""BiLSTM and Kim-CNN: shapes, and padding never changes a row's result."""

from __future__ import annotations

import pytest
import torch

from bertkit.nn.cnn import KimCNN
from bertkit.nn.lstm import BiLSTM


def _batch():
    torch.manual_seed(0)
    x = torch.randn(3, 6, 8)
    mask = torch.tensor([[1] * 6, [1] * 2 + [0] * 4, [0] * 6], dtype=torch.bool)
    return x, mask


def test_bilstm_shapes_and_padding_invariance():
    x, mask = _batch()
    lstm = BiLSTM(8, hidden=5).eval()
    out = lstm(x, mask)
    assert out.shape == (3, 6, 10) and lstm.output_dim == 10
    assert torch.all(out[1, 2:] == 0) and torch.all(out[2] == 0)
    alone = lstm(x[1:2, :2], mask[1:2, :2])
    noisy = x.clone()
    noisy[1, 2:] = 1e6  # padding content never leaks
    assert torch.allclose(lstm(noisy, mask)[1, :2], alone[0], atol=1e-6)


def test_kim_cnn_shapes_and_padding_invariance():
    x, mask = _batch()
    cnn = KimCNN(8, filters=4, kernel_sizes=(2, 3)).eval()
    out = cnn(x, mask)
    assert out.shape == (3, 8) and cnn.output_dim == 8 and torch.isfinite(out).all()
    noisy = x.clone()
    noisy[1, 2:] = 1e6
    assert torch.allclose(cnn(noisy, mask)[1], cnn(x[1:2, :2], mask[1:2, :2])[0], atol=1e-6)
    short = cnn(x[:1, :1], mask[:1, :1])  # shorter than every kernel: still a feature vector
    assert short.shape == (1, 8) and torch.isfinite(short).all()


def test_bad_sizes():
    with pytest.raises(ValueError, match="hidden >= 1"):
        BiLSTM(4, hidden=0)
    with pytest.raises(ValueError, match="kernel sizes"):
        KimCNN(4, kernel_sizes=())
