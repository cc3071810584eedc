import pytest
import torch
import torch.nn.functional as F

from bertkit.encoder import Encoder
from bertkit.qa.model import NEG_INF, QAModel, SpanHead, masked_logits, span_loss


def test_span_loss_is_the_mean_of_start_and_end_cross_entropy():
    torch.manual_seed(0)
    start, end = torch.randn(3, 7), torch.randn(3, 7)
    sp, ep = torch.tensor([0, 2, 6]), torch.tensor([1, 2, 6])
    expected = (F.cross_entropy(start, sp) + F.cross_entropy(end, ep)) / 2
    assert span_loss(start, end, sp, ep).item() == pytest.approx(expected.item())


def test_head_and_padding_mask():
    head = SpanHead(8)
    hidden = torch.randn(2, 5, 8)
    start, end = head(hidden)
    assert start.shape == end.shape == (2, 5)
    assert torch.allclose(start, hidden @ head.linear.weight[0] + head.linear.bias[0])  # S . h_i + b
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    masked = masked_logits(start, mask)
    assert (masked[0, 3:] == NEG_INF).all() and torch.equal(masked[1], start[1])
    assert not (start == NEG_INF).any()  # the input is not modified


def test_forward_and_trainable_layers(tiny_bert):
    model = QAModel(Encoder(tiny_bert, device="cpu", max_length=32))
    batch = {"input_ids": torch.tensor([[101, 2054, 102, 3000, 102, 0]]), "token_type_ids": torch.tensor([[0, 0, 0, 1, 1, 0]]),
             "attention_mask": torch.tensor([[1, 1, 1, 1, 1, 0]])}
    start, end = model(batch)
    assert start.shape == (1, 6) and start[0, 5] == NEG_INF
    names = model.trainable_names(1)
    assert any(".layer.2." in n for n in names) and not any(".layer.1." in n or "embeddings" in n for n in names)
    assert {"head.linear.weight", "head.linear.bias"} <= set(names)
    assert model.trainable_names(0) == ["head.linear.weight", "head.linear.bias"]
    assert len(model.trainable_names(None)) == len(list(model.parameters()))
    model.set_trainable(names)
    batch.update(start_positions=torch.tensor([3]), end_positions=torch.tensor([3]))
    model.loss(batch).backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads == set(names)  # frozen layers got no gradient
