"""Kim (2014) CNN: parallel 1-d convolutions of several widths, ReLU, max over time."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["KimCNN"]


class KimCNN(nn.Module):
    """# (B, W, D), mask (B, W) -> (B, filters * len(kernel_sizes))

    Only windows that start on a real word count in the max; a text shorter than a
    kernel is zero-padded to the kernel's width, so every text gets a feature.
    """

    def __init__(self, input_dim: int, filters: int = 100, kernel_sizes: Sequence[int] = (3, 4, 5)) -> None:
        super().__init__()
        if filters < 1 or not kernel_sizes or min(kernel_sizes) < 1:
            raise ValueError(f"KimCNN needs filters >= 1 and kernel sizes >= 1, got {filters} and {list(kernel_sizes)}")
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.filters = filters
        self.convs = nn.ModuleList(nn.Conv1d(input_dim, filters, k) for k in self.kernel_sizes)

    @property
    def output_dim(self) -> int:
        return self.filters * len(self.kernel_sizes)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        keep = mask.bool()
        x = torch.where(keep.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))
        x = F.pad(x, (0, 0, 0, max(self.kernel_sizes) - 1)).transpose(1, 2)  # (B, D, W + k_max - 1): a constant pad (exports cleanly)
        lengths = keep.sum(dim=1)  # (B,)
        pooled = []
        for k, conv in zip(self.kernel_sizes, self.convs):
            h = F.relu(conv(x))  # (B, F, W' - k + 1)
            valid = torch.arange(h.shape[2], device=h.device)[None, :] < (lengths - k + 1).clamp(min=1)[:, None]  # (B, W'')
            h = torch.where(valid.unsqueeze(1), h, torch.full((), float("-inf"), dtype=h.dtype, device=h.device))
            pooled.append(h.amax(dim=2))  # (B, F)
        return torch.cat(pooled, dim=1)
