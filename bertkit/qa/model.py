"""The span model: an encoder and one linear layer giving a start and an end logit per token.

The head's two output rows are the learned start vector S and end vector E: the start
logit of token i is S . h_i (+ bias), the end logit E . h_i. Training minimises the mean
of the cross-entropy of the true start position and that of the true end position over
the window; unanswerable windows point at ``[CLS]``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from bertkit.encoder.delta import top_layer_names
from bertkit.encoder.encoder import Encoder, EncoderOutput

__all__ = ["NEG_INF", "SpanHead", "QAModel", "span_loss", "masked_logits", "span_logits"]

NEG_INF = -1e4  # logit given to padding (finite: safe in bf16 and in softmax)


def masked_logits(logits: Tensor, attention_mask: Tensor) -> Tensor:
    """Padding positions set to NEG_INF (a new tensor). (B, T), (B, T) -> (B, T)"""
    return logits.masked_fill(attention_mask == 0, NEG_INF)


def span_loss(start_logits: Tensor, end_logits: Tensor, start_positions: Tensor, end_positions: Tensor) -> Tensor:
    """Mean of the start and end cross-entropies. (B, T) x2, (B,) x2 -> scalar"""
    start = F.cross_entropy(start_logits.float(), start_positions)
    end = F.cross_entropy(end_logits.float(), end_positions)
    return (start + end) / 2


class SpanHead(nn.Module):
    """hidden states (B, T, H) -> start and end logits, each (B, T)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, 2)

    def forward(self, hidden: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.linear(hidden)  # (B, T, 2)
        return logits[..., 0], logits[..., 1]


def span_logits(head: SpanHead, out: EncoderOutput) -> tuple[Tensor, Tensor]:
    """Start and end logits in float32, padding masked: what torch and ONNX both run. # -> (B, T), (B, T)"""
    start, end = head(out.last_hidden_state)
    return masked_logits(start.float(), out.attention_mask), masked_logits(end.float(), out.attention_mask)


class QAModel(nn.Module):
    """Encoder + span head. Parameters: ``encoder.*`` (the bare encoder) and ``head.*``."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self._encoder = encoder  # tokenizer, device, autocast; not a module
        self.encoder = encoder.model
        self.head = SpanHead(encoder.hidden_size).to(encoder.device)

    @property
    def tokenizer(self):
        return self._encoder.tokenizer

    @property
    def wrapped(self) -> Encoder:
        return self._encoder

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Padded batch (each (B, T)) -> start and end logits (B, T) in fp32, padding masked."""
        out = self._encoder.forward(batch)
        with self._encoder.autocast():
            return span_logits(self.head, out)  # (B, T) each

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        start, end = self(batch)
        return span_loss(start, end, batch["start_positions"], batch["end_positions"])

    def trainable_names(self, train_layers: int | None) -> list[str]:
        """Parameter names trained when only the top ``train_layers`` encoder layers learn.

        None trains everything (embeddings included); 0 trains the head alone.
        """
        names = [n for n, _ in self.named_parameters()]
        if train_layers is None:
            return names
        layers = set(top_layer_names(names, int(self._encoder.num_layers), train_layers))
        return [n for n in names if n.startswith("head.") or n in layers]

    def set_trainable(self, names: list[str] | set[str]) -> None:
        """requires_grad on exactly ``names``; frozen lower layers then cost no backward pass."""
        wanted = set(names)
        for name, param in self.named_parameters():
            param.requires_grad_(name in wanted)

    def to_device_batch(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        device = self._encoder.device
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}

