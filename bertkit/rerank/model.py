"""The cross-encoder's modules: a one-logit pooling head, and encoder + head for training.

The head is the classifier's :class:`~bertkit.classification.model.PoolingHead` with one
output (or a transformers checkpoint's own, :class:`~bertkit.encoder.taskheads.SequenceLogits`);
:class:`RelevanceHead` reads an :class:`EncoderOutput` and returns that logit, so torch inference,
training and the ONNX graph run the very same module.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bertkit.classification.model import HeadSpec, PoolingHead, tokenize
from bertkit.encoder.encoder import Encoder, EncoderOutput
from bertkit.engine.graph import EncoderGraph

__all__ = ["RelevanceHead", "CrossEncoderModel", "relevance_graph", "pair_windows", "build_head", "bce_loss", "listwise_loss"]


def build_head(spec: HeadSpec, encoder: Encoder) -> PoolingHead:
    """A pooling head with one output (the relevance logit)."""
    return PoolingHead(spec, encoder.hidden_size, encoder.num_layers, 1)


class RelevanceHead(nn.Module):
    """EncoderOutput -> relevance logits. # -> (B,) float32"""

    def __init__(self, head: nn.Module) -> None:  # PoolingHead or SequenceLogits: out -> ((B, 1), _)
        super().__init__()
        self.head = head

    @property
    def needs_hidden_states(self) -> bool:
        return self.head.needs_hidden_states

    def forward(self, out: EncoderOutput) -> Tensor:
        logits, _ = self.head(out)  # (B, 1)
        return logits[:, 0].float()  # (B,)


class CrossEncoderModel(nn.Module):
    """Encoder + relevance head, trained end to end. Parameter names start with ``encoder.``."""

    def __init__(self, encoder: Encoder, head: PoolingHead) -> None:
        super().__init__()
        self.encoder = encoder.model
        self.head = RelevanceHead(head)
        self._runner = encoder  # tokenizer, batching and forward (not a submodule)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        out = self._runner.forward(batch, hidden_states=self.head.needs_hidden_states)
        return self.head(out)  # (B,)


def relevance_graph(encoder: Encoder, head: nn.Module) -> EncoderGraph:
    """ids -> relevance logits on the engine's one forward. # (B, T) x k -> (B,)"""
    relevance = RelevanceHead(head)
    return EncoderGraph(encoder.model, relevance, encoder.input_keys, hidden_states=relevance.needs_hidden_states,
                        pooler=encoder.has_pooler).eval()


def pair_windows(encoder: Encoder, queries: list[str], passages: list[str]):
    """``[CLS] query [SEP] passage [SEP]``, one window per pair, cut longest-first (as
    sentence-transformers' CrossEncoder tokenizes)."""
    return tokenize(encoder, queries, passages)


def bce_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy on relevance logits; labels in [0, 1]. # (B,), (B,) -> ()"""
    return torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())


def listwise_loss(logits: Tensor, labels: Tensor, queries: list[str]) -> Tensor:
    """Softmax cross-entropy within each query's rows, the labels (normalised) as targets;
    queries without a relevant row are skipped. # (B,), (B,) -> ()"""
    losses = []
    for q in dict.fromkeys(queries):
        rows = torch.tensor([i for i, x in enumerate(queries) if x == q], device=logits.device)
        target = labels[rows].float().clamp_min(0)  # (G,)
        if float(target.sum()) <= 0:
            continue
        log_p = torch.log_softmax(logits[rows].float(), dim=0)  # (G,)
        losses.append(-(target / target.sum() * log_p).sum())
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0
