"""AdamW with weight-decay exclusions and layer-wise learning-rate decay; warm-up + linear decay.

Parameter names decide the groups, so this works for any module that holds a
BERT-family encoder under a known prefix (``encoder.`` by default):

* no weight decay for biases and normalisation weights (LayerNorm, ``*norm*``);
* with ``layer_lr_decay`` d < 1, encoder layer k of L learns at ``lr * d**(L - k)`` and the
  embeddings at ``lr * d**L``; everything outside the encoder (heads, pooling) at ``lr``.
"""

from __future__ import annotations

import re

import torch
from torch import nn

__all__ = ["layer_depth", "build_param_groups", "build_optimizer", "linear_schedule"]

_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|block|blocks|h)\.(\d+)\.")


def layer_depth(name: str, num_layers: int, encoder_prefix: str = "encoder.") -> int | None:
    """Depth of a parameter: 0 embeddings, k for encoder layer k-1, L+1 beyond; None outside the encoder."""
    if not name.startswith(encoder_prefix):
        return None
    match = _LAYER.search(name[len(encoder_prefix) :])
    if match:
        return int(match.group(1)) + 1
    if "embed" in name:
        return 0
    return num_layers + 1  # e.g. the model's pooler: above the last layer


def _no_decay(name: str, param: nn.Parameter) -> bool:
    lowered = name.lower()
    return param.ndim < 2 or lowered.endswith(".bias") or "norm" in lowered


def build_param_groups(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    layer_lr_decay: float = 1.0,
    num_layers: int | None = None,
    encoder_prefix: str = "encoder.",
) -> list[dict]:
    """AdamW parameter groups (every parameter, trainable now or later; frozen ones get no grad)."""
    if not 0 < layer_lr_decay <= 1:
        raise ValueError(f"layer_lr_decay must be in (0, 1], got {layer_lr_decay}")
    named = [(n, p) for n, p in model.named_parameters()]
    if num_layers is None:
        depths = [layer_depth(n, 10**6, encoder_prefix) for n, _ in named]
        num_layers = max([d for d in depths if d is not None and d < 10**6] or [0])
    groups: dict[tuple[float, float], dict] = {}
    for name, param in named:
        depth = layer_depth(name, num_layers, encoder_prefix)
        scale = 1.0 if depth is None else layer_lr_decay ** max(0, num_layers - min(depth, num_layers))
        decay = 0.0 if _no_decay(name, param) else weight_decay
        key = (scale, decay)
        group = groups.setdefault(key, {"params": [], "names": [], "lr": lr * scale, "weight_decay": decay})
        group["params"].append(param)
        group["names"].append(name)
    return [{k: v for k, v in g.items() if k != "names"} for g in groups.values()]


def build_optimizer(groups: list[dict], lr: float) -> torch.optim.AdamW:
    """AdamW, fused when the parameters' device supports it (CUDA; CPU in recent torch)."""
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=lr)


def linear_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from 0 to each group's lr over ``warmup_steps``, then linear decay to 0."""
    total = max(1, int(total_steps))
    warm = max(0, min(int(warmup_steps), total))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        return max(0.0, (total - step) / max(1, total - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
