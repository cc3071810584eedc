"""A linear-chain CRF: forward-algorithm log-likelihood, Viterbi decoding, marginals,
and hard transition constraints for BIO (IOB2) and BIOES tag sets.

Shapes: ``emissions`` (B, W, T) scores per word and tag, ``mask`` (B, W) true on real
words (a prefix of each row), ``tags`` (B, W) tag indices. A row with no word scores 0.
Forbidden transitions get a large negative score (not -inf, so no NaN can appear).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["FORBIDDEN", "CRF", "transition_constraints"]

FORBIDDEN = -10000.0
SCHEMES = ("BIO", "BIOES")


def _split(label: str) -> tuple[str, str]:
    if label == "O":
        return "O", ""
    prefix, _, kind = label.partition("-")
    return prefix, kind


def transition_constraints(labels: Sequence[str], scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """Allowed (T, T) transitions (from, to), allowed first tags (T,), allowed last tags (T,).

    BIO: ``I-x`` only after ``B-x`` or ``I-x``, never first. BIOES additionally: ``B-x``
    and ``I-x`` must be followed by ``I-x`` or ``E-x``, and ``I-``/``E-`` only continue an
    entity of the same type.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; valid options: {', '.join(SCHEMES)}")
    parts = [_split(label) for label in labels]
    n = len(labels)
    allowed = torch.ones(n, n, dtype=torch.bool)
    start = torch.ones(n, dtype=torch.bool)
    end = torch.ones(n, dtype=torch.bool)
    inside = ("I", "E") if scheme == "BIOES" else ("I",)
    for j, (pj, kj) in enumerate(parts):
        if pj in inside:
            start[j] = False
            for i, (pi, ki) in enumerate(parts):
                allowed[i, j] = pi in ("B", "I") and ki == kj
        elif scheme == "BIOES":  # O, B-, S- start a new chunk: the previous one must be closed
            for i, (pi, _) in enumerate(parts):
                allowed[i, j] = pi not in ("B", "I")
    if scheme == "BIOES":
        for i, (pi, _) in enumerate(parts):
            end[i] = pi not in ("B", "I")
    return allowed, start, end


def _penalty(allowed: Tensor) -> Tensor:
    return torch.where(allowed, torch.zeros(()), torch.full((), FORBIDDEN))


class CRF(nn.Module):
    def __init__(self, num_tags: int, constraints: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"a CRF needs at least one tag, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # (from, to)
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        allowed, start, end = constraints or (torch.ones(num_tags, num_tags, dtype=torch.bool),) + (torch.ones(num_tags, dtype=torch.bool),) * 2
        self.register_buffer("trans_penalty", _penalty(allowed), persistent=False)
        self.register_buffer("start_penalty", _penalty(start), persistent=False)
        self.register_buffer("end_penalty", _penalty(end), persistent=False)

    def _scores(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.transitions + self.trans_penalty, self.start + self.start_penalty, self.end + self.end_penalty

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Unnormalised score of the given tag paths. # -> (B,)"""
        trans, start, end = self._scores()
        emissions, mask = emissions.float(), mask.bool()
        tags = tags.clamp(min=0) * mask  # ignored positions (-100) are masked anyway
        emit = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # (B, W)
        total = start[tags[:, 0]] + emit[:, 0]
        steps = trans[tags[:, :-1], tags[:, 1:]] + emit[:, 1:]  # (B, W-1)
        total = total + (steps * mask[:, 1:]).sum(dim=1)
        last = tags.gather(1, (mask.sum(dim=1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        total = total + end[last]
        return torch.where(mask[:, 0], total, torch.zeros_like(total))

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z by the forward algorithm. # -> (B,)"""
        trans, start, end = self._scores()
        emissions, mask = emissions.float(), mask.bool()
        alpha = start + emissions[:, 0]  # (B, T)
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0), dim=1) + emissions[:, t]  # (B, T)
            alpha = torch.where(mask[:, t : t + 1], step, alpha)
        log_z = torch.logsumexp(alpha + end, dim=1)
        return torch.where(mask[:, 0], log_z, torch.zeros_like(log_z))

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """log p(tags | emissions) per row. # -> (B,)"""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean negative log-likelihood over words (a loss). # -> ()"""
        return -self.log_likelihood(emissions, tags, mask).sum() / mask.bool().sum().clamp(min=1)

    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """Viterbi: the best tag path of each row, as long as the row's mask."""
        trans, start, end = self._scores()
        emissions, mask = emissions.float(), mask.bool()
        score = start + emissions[:, 0]  # (B, T)
        pointers = []
        for t in range(1, emissions.shape[1]):
            total = score.unsqueeze(2) + trans.unsqueeze(0)  # (B, from, to)
            best, idx = total.max(dim=1)  # (B, T)
            pointers.append(idx)
            score = torch.where(mask[:, t : t + 1], best + emissions[:, t], score)
        score = score + end
        lengths = mask.sum(dim=1).tolist()
        paths = []
        for b, n in enumerate(lengths):
            if n == 0:
                paths.append([])
                continue
            tag = int(score[b].argmax())
            path = [tag]
            for t in range(n - 1, 0, -1):
                tag = int(pointers[t - 1][b, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths

    def marginals(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """p(tag at word | emissions), the gradient of log Z. # -> (B, W, T)"""
        with torch.enable_grad():
            x = emissions.detach().float().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.log_partition(x, mask).sum(), x)
        return grad
