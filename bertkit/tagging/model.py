"""The tagger network: contextual word vectors -> [BiLSTM] -> linear -> [CRF].

``features`` mode reads cached vectors of a frozen encoder (the encoder never runs
after the first pass); ``finetune`` mode trains the encoder too. Labels live on words:
the word vector is built from its sub-word pieces as ``subword`` says (default: the
first piece), so no piece-level label alignment is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bertkit.errors import UsageError, choice_error
from bertkit.nn.contextual import ContextualEmbedding
from bertkit.nn.crf import CRF, transition_constraints
from bertkit.nn.lstm import BiLSTM

__all__ = ["MODES", "HEADS", "TaggerSpec", "TaggerModel", "pad_tags"]

MODES = ("features", "finetune")
HEADS = ("linear", "crf", "bilstm", "bilstm-crf")


@dataclass
class TaggerSpec:
    labels: list[str]
    scheme: str = "BIO"
    mode: str = "features"
    head: str = "bilstm-crf"
    layers: str = "-1"
    layer_combine: str = "mean"
    subword: str = "first"
    lstm_hidden: int = 256
    lstm_layers: int = 1
    dropout: float = 0.1
    max_length: int = 512

    def check(self, where: str = "tagger") -> None:
        if self.mode not in MODES:
            raise choice_error("mode", self.mode, MODES)
        if self.head not in HEADS:
            raise choice_error("head", self.head, HEADS)
        if len(self.labels) < 2:
            raise UsageError(f"{where}: a tagger needs at least two tags, got {self.labels}")


class TaggerModel(nn.Module):
    def __init__(self, spec: TaggerSpec, embedding: ContextualEmbedding) -> None:
        super().__init__()
        spec.check()
        self.spec = spec
        self.embedding = embedding
        self.dropout = nn.Dropout(spec.dropout)
        dim = embedding.dim
        self.lstm = BiLSTM(dim, spec.lstm_hidden, spec.lstm_layers, spec.dropout) if spec.head.startswith("bilstm") else None
        self.proj = nn.Linear(self.lstm.output_dim if self.lstm else dim, len(spec.labels))
        self.crf = CRF(len(spec.labels), transition_constraints(spec.labels, spec.scheme)) if spec.head.endswith("crf") else None

    @property
    def head_device(self) -> torch.device:
        return self.proj.weight.device

    def emissions(self, words: list[list[str]]) -> tuple[Tensor, Tensor]:
        """# word lists -> scores (B, W, T), mask (B, W)"""
        vectors, mask = self.embedding(words)
        vectors, mask = vectors.to(self.head_device), mask.to(self.head_device)
        x = self.dropout(vectors)
        if self.lstm is not None:
            x = self.dropout(self.lstm(x, mask))
        return self.proj(x).float(), mask

    def loss(self, words: list[list[str]], tags: Tensor) -> Tensor:
        """Mean per-word loss: CRF negative log-likelihood or cross-entropy. ``tags`` (B, W), -100 padding."""
        scores, mask = self.emissions(words)
        tags = tags.to(scores.device)[:, : scores.shape[1]]
        if self.crf is not None:
            return self.crf(scores, tags, mask)
        return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), tags.reshape(-1), ignore_index=-100)

    def predict(self, words: list[list[str]]) -> tuple[list[list[int]], Tensor]:
        """Best tag ids per sentence and per-word tag probabilities (B, W, T)."""
        scores, mask = self.emissions(words)
        if self.crf is not None:
            return self.crf.decode(scores, mask), self.crf.marginals(scores, mask)
        probs = scores.softmax(dim=-1)
        best = probs.argmax(dim=-1)
        return [best[b, : int(mask[b].sum())].tolist() for b in range(len(words))], probs


def pad_tags(tag_ids: list[list[int]]) -> Tensor:
    """# ragged tag ids -> (B, W) with -100 padding"""
    width = max([len(t) for t in tag_ids] + [1])
    out = torch.full((len(tag_ids), width), -100, dtype=torch.long)
    for i, t in enumerate(tag_ids):
        out[i, : len(t)] = torch.tensor(t, dtype=torch.long)
    return out


