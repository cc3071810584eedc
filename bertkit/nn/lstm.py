"""A bidirectional LSTM over word vectors that respects the padding mask."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["BiLSTM"]


class BiLSTM(nn.Module):
    """# (B, W, D), mask (B, W) -> (B, W, 2 * hidden); padded positions are zeros."""

    def __init__(self, input_dim: int, hidden: int = 256, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if hidden < 1 or num_layers < 1:
            raise ValueError(f"BiLSTM needs hidden >= 1 and num_layers >= 1, got {hidden} and {num_layers}")
        self.input_dim, self.hidden, self.num_layers = input_dim, hidden, num_layers
        self.lstm = nn.LSTM(input_dim, hidden, num_layers=num_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if num_layers > 1 else 0.0)

    @property
    def output_dim(self) -> int:
        return 2 * self.hidden

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        lengths = mask.bool().sum(dim=1).clamp(min=1).cpu()  # (B,); an empty row runs one zero step
        x = torch.where(mask.bool().unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, W, 2h)
        return torch.where(mask.bool().unsqueeze(-1), out, torch.zeros((), dtype=out.dtype, device=out.device))
