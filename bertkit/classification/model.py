"""The classifier modules: a pooling head (pooling + dropout + linear or small MLP) and
the full model (encoder + head) that fine-tuning trains end to end.

The head reads an :class:`EncoderOutput`; in features mode it reads cached inputs
instead (pooled vectors for parameter-free poolings, token states for
``weighted_layer`` / ``attention``), so both modes train the very same module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bertkit.classification.seqheads import sequence_pooling
from bertkit.embeddings.layers import LayerSelection, parse_layers
from bertkit.embeddings.pooling import Pooling, PoolingInput, build_pooling
from bertkit.encoder.encoder import Encoder, EncoderOutput

__all__ = ["HeadSpec", "PoolingHead", "TextClassifier", "LEARNED_POOLINGS", "tokenize"]

LEARNED_POOLINGS = ("weighted_layer", "attention")  # poolings with trainable parameters


@dataclass
class HeadSpec:
    """How a head is built; saved in the model config."""

    pooling: str = "mean"
    layers: str = "-1"
    layer_start: int | None = None  # weighted_layer: first layer mixed
    dropout: float = 0.1
    hidden: int = 0  # 0: linear layer; > 0: MLP with one hidden layer of this size
    standardize: bool = False  # features mode: pooled vectors are standardised (train mean/std, stored as buffers)
    sequence: str | None = None  # "bilstm" | "cnn": a network over token states as the pooling (classification/seqheads.py)
    sequence_size: int = 128  # BiLSTM hidden units per direction, or CNN filters per width


class PoolingHead(nn.Module):
    """Pooling -> dropout -> linear (or Linear-GELU-Linear). # EncoderOutput -> (B, C) logits"""

    def __init__(self, spec: HeadSpec, hidden_size: int, num_layers: int, num_labels: int) -> None:
        super().__init__()
        self.spec = spec
        self.layers: LayerSelection = parse_layers(spec.layers, num_layers)
        if spec.sequence:
            self.pooling: Pooling = sequence_pooling(spec.sequence, spec.pooling, hidden_size, spec.sequence_size)
        else:
            self.pooling = build_pooling(spec.pooling, hidden_size, num_layers, layer_start=spec.layer_start)
        self.dropout = nn.Dropout(spec.dropout)
        dim = self.pooling.output_dim
        if spec.standardize:  # set by features-mode training; saved in head.safetensors
            self.register_buffer("feature_mean", torch.zeros(dim))
            self.register_buffer("feature_std", torch.ones(dim))
        if spec.hidden > 0:
            self.classifier = nn.Sequential(nn.Linear(dim, spec.hidden), nn.GELU(), nn.Linear(spec.hidden, num_labels))
        else:
            self.classifier = nn.Linear(dim, num_labels)

    @property
    def learned_pooling(self) -> bool:
        return any(p.numel() for p in self.pooling.parameters())

    @property
    def needs_hidden_states(self) -> bool:
        return self.pooling.needs_hidden_states or not self.layers.last_only

    def pooling_input(self, out: EncoderOutput) -> PoolingInput:
        """The head's input in float32 (a bf16/fp16 encoder output meets fp32 head weights)."""
        hidden = tuple(h.float() for h in out.hidden_states) if out.hidden_states is not None else None
        tokens = self.layers.select(hidden) if hidden is not None else out.last_hidden_state.float()
        pooler = out.pooler_output.float() if out.pooler_output is not None else None
        return PoolingInput(tokens, out.attention_mask, hidden, pooler)

    def standardized(self, vectors: Tensor) -> Tensor:
        """Pooled vectors as the classifier layer reads them. # (B, D) -> (B, D) float32"""
        vectors = vectors.float()
        if self.spec.standardize:
            vectors = (vectors - self.feature_mean) / self.feature_std
        return vectors

    def classify(self, vectors: Tensor) -> Tensor:
        """Pooled vectors to logits. # (B, D) -> (B, C)"""
        return self.classifier(self.dropout(self.standardized(vectors)))

    def forward_pooled(self, inputs: PoolingInput) -> tuple[Tensor, Tensor | None]:
        """# -> logits (B, C), token weights (B, T) or None"""
        pooled = self.pooling(inputs)
        return self.classify(pooled.vector), pooled.token_weights

    def forward(self, out: EncoderOutput) -> tuple[Tensor, Tensor | None]:
        return self.forward_pooled(self.pooling_input(out))


class TextClassifier(nn.Module):
    """Encoder + pooling head, trained end to end. Parameter names start with ``encoder.``."""

    def __init__(self, encoder: Encoder, head: PoolingHead) -> None:
        super().__init__()
        self.encoder = encoder.model
        self.head = head
        self._runner = encoder  # tokenizer, batching and forward (not a submodule)

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor | None]:
        out = self._runner.forward(batch, hidden_states=self.head.needs_hidden_states)
        return self.head(out)


def tokenize(encoder: Encoder, texts, pairs=None):
    """Texts (or pairs, ``[CLS] A [SEP] B [SEP]``) to one window each; pairs are cut longest-first."""
    return encoder.tokenize(texts, pairs, truncation="longest_first" if pairs is not None else None)


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    return torch.nn.functional.cross_entropy(logits.float(), labels)
