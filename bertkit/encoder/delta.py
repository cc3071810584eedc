"""Weight deltas against a base encoder: ship only what fine-tuning changed.

A fully fine-tuned MiniLM is 90 MB; what training changed is much less. A delta file
stores, for every tensor that differs from the base, ``tuned - base``:

* ``fp16``: the delta in half precision;
* ``int8``: matrices as int8 codes with one fp32 scale per row (symmetric, ``scale =
  max|row| / 127``; the error at most half a step of its row);
* ``int4``: the same with 4-bit codes (``max|row| / 7``), two to a byte.

Vectors (biases, LayerNorm) are always fp16. Rows of a matrix that training did not touch
are left out (``name:rows`` lists the rows kept): an embedding matrix changes only in the
rows of tokens the training data holds; the rest moved only by weight decay (each row
scaled by the same factor, well under 1%), which the delta drops.

The file is plain safetensors (no pickle): ``name`` holds the delta or its codes (int8;
uint8 for packed int4), ``name:scale`` the row scales, ``name:rows`` the rows; its metadata
names the format, the dtype and the base weights' sha256. Loading adds the deltas to a
freshly loaded base after checking every name, row and shape against it.

:func:`top_layer_names` picks the parameters of the top N transformer layers, the usual way
to train (and store) part of an encoder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from bertkit.errors import ModelLoadError, choice_error

__all__ = ["DELTA_DTYPES", "DELTA_FORMAT", "RowDelta", "top_layer_names", "quantize_rows", "dequantize_rows", "pack_int4", "unpack_int4",
           "changed_rows", "weight_deltas", "save_deltas", "load_deltas", "apply_deltas"]

DELTA_DTYPES = ("fp16", "int8", "int4")
DELTA_FORMAT = "bertkit-delta-1"
_SCALE, _ROWS = ":scale", ":rows"
_LEVELS = {"int8": 127, "int4": 7}
_LAYER = re.compile(r"(?:^|\.)layers?\.(\d+)\.")
_DECAY_ONLY = 1e-4  # a row whose change is this close (relative) to a scaling of itself was not trained


@dataclass(frozen=True)
class RowDelta:
    """A tensor's delta: ``values`` for every row, or only for ``rows`` (then (K, C))."""

    values: Tensor
    rows: Tensor | None = None


def top_layer_names(names: list[str], num_layers: int, train_layers: int | None) -> list[str]:
    """The names among ``names`` inside the top ``train_layers`` transformer layers
    (``....layer.<i>....``, as BERT, RoBERTa, ELECTRA and DistilBERT name them); None: all names."""
    if train_layers is None:
        return list(names)
    first = max(0, num_layers - int(train_layers))
    return [n for n in names if (m := _LAYER.search(n)) is not None and first <= int(m.group(1)) < num_layers]


def quantize_rows(delta: Tensor, levels: int = 127) -> tuple[Tensor, Tensor]:
    """(R, C) float -> int8 codes in [-levels, levels] (R, C) and fp32 scales (R,):
    ``delta ~ codes * scale[:, None]``."""
    x = delta.detach().float()  # (R, C)
    scale = x.abs().amax(dim=1) / levels  # (R,)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))  # all-zero rows: codes 0
    codes = torch.round(x / safe[:, None]).clamp(-levels, levels).to(torch.int8)  # (R, C)
    return codes, scale


def dequantize_rows(codes: Tensor, scale: Tensor) -> Tensor:
    """int8 (R, C) and scales (R,) -> float32 (R, C)."""
    return codes.float() * scale.float()[:, None]


def pack_int4(codes: Tensor) -> Tensor:
    """int8 codes in [-7, 7] (R, C), C even -> uint8 (R, C/2): two offset nibbles a byte."""
    u = (codes.to(torch.int16) + 8).to(torch.uint8)  # (R, C) in [1, 15]
    return u[:, 0::2] | (u[:, 1::2] << 4)  # (R, C/2)


def unpack_int4(packed: Tensor) -> Tensor:
    """uint8 (R, C/2) -> int8 codes (R, C)."""
    low, high = (packed & 0x0F).to(torch.int8) - 8, (packed >> 4).to(torch.int8) - 8  # (R, C/2) each
    return torch.stack([low, high], dim=2).reshape(packed.shape[0], -1)  # (R, C)


def changed_rows(delta: Tensor, base: Tensor) -> Tensor:
    """Indices of the rows of a (R, C) delta that are more than a scaling of their base row
    (weight decay scales untrained rows; training moves a row off its own direction)."""
    d, w = delta.float(), base.float()  # (R, C)
    norm2 = (w * w).sum(dim=1).clamp_min(1e-30)  # (R,)
    factor = (d * w).sum(dim=1) / norm2  # (R,): the best scaling of each base row
    residual = (d - factor[:, None] * w).norm(dim=1) / norm2.sqrt()  # (R,)
    return torch.nonzero(residual > _DECAY_ONLY).flatten()


def weight_deltas(base: dict[str, Tensor], tuned: dict[str, Tensor]) -> dict[str, RowDelta]:
    """``tuned - base`` (fp32, on CPU) for every float tensor that changed; matrices keep only
    their trained rows (see :func:`changed_rows`). Names must match."""
    if set(base) != set(tuned):
        extra = sorted(set(base) ^ set(tuned))[:3]
        raise ValueError(f"base and tuned weights name different tensors (e.g. {extra})")
    out = {}
    for name, value in tuned.items():
        if not value.is_floating_point():
            continue  # position ids and other buffers
        b = base[name].detach().float().cpu()
        delta = value.detach().float().cpu() - b
        if not torch.count_nonzero(delta):
            continue
        if delta.dim() != 2:
            out[name] = RowDelta(delta)
            continue
        rows = changed_rows(delta, b)
        if len(rows) == 0:
            continue
        out[name] = RowDelta(delta) if len(rows) == delta.shape[0] else RowDelta(delta[rows], rows)
    return out


def _encode(name: str, delta: RowDelta, dtype: str) -> dict[str, Tensor]:
    values = delta.values
    out = {} if delta.rows is None else {name + _ROWS: delta.rows.to(torch.int64)}
    if dtype == "fp16" or values.dim() != 2 or (dtype == "int4" and values.shape[1] % 2):
        kind = "int8" if dtype == "int4" and values.dim() == 2 else "fp16"  # odd widths: int8
        if kind == "fp16":
            return {**out, name: values.to(torch.float16).contiguous()}
        dtype = kind
    codes, scale = quantize_rows(values, _LEVELS[dtype])
    return {**out, name: pack_int4(codes) if dtype == "int4" else codes, name + _SCALE: scale}


def save_deltas(path: str | Path, deltas: dict[str, RowDelta], dtype: str, base_sha256: str) -> int:
    """Write ``deltas`` as ``dtype`` (:data:`DELTA_DTYPES`) to ``path``; returns the bytes of tensors."""
    if dtype not in DELTA_DTYPES:
        raise choice_error("delta dtype", dtype, DELTA_DTYPES)
    tensors: dict[str, Tensor] = {}
    for name, delta in deltas.items():
        tensors.update(_encode(name, delta, dtype))
    save_file(tensors, str(path), metadata={"format": DELTA_FORMAT, "dtype": dtype, "base_sha256": base_sha256})
    return sum(t.numel() * t.element_size() for t in tensors.values())


def _read(path: Path, base_sha256: str | None) -> dict[str, Tensor]:
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing (incomplete model directory)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            raw = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path}: not a readable safetensors file ({str(exc).splitlines()[0][:160]})") from None
    if meta.get("format") != DELTA_FORMAT or meta.get("dtype") not in DELTA_DTYPES:
        raise ModelLoadError(f"{path}: not a bertkit delta file (format {meta.get('format')!r}, expected {DELTA_FORMAT!r})")
    if base_sha256 is not None and meta.get("base_sha256") != base_sha256:
        raise ModelLoadError(f"{path}: made for another base encoder (weights sha256 differs)")
    return raw


def load_deltas(path: str | Path, base_sha256: str | None = None) -> dict[str, RowDelta]:
    """The fp32 deltas stored in ``path``; refuses another format or (given) another base."""
    path = Path(path)
    raw = _read(path, base_sha256)
    deltas = {}
    for name, value in raw.items():
        if name.endswith((_SCALE, _ROWS)):
            continue
        if value.dtype in (torch.int8, torch.uint8):
            codes = unpack_int4(value) if value.dtype == torch.uint8 else value
            scale = raw.get(name + _SCALE)
            if value.dim() != 2 or scale is None or scale.shape != codes.shape[:1]:
                raise ModelLoadError(f"{path}: tensor {name!r} has integer codes but no matching row scales")
            value = dequantize_rows(codes, scale)
        rows = raw.get(name + _ROWS)
        if rows is not None and (value.dim() != 2 or rows.shape != value.shape[:1] or rows.dtype != torch.int64):
            raise ModelLoadError(f"{path}: tensor {name!r} has rows that do not match its values")
        deltas[name] = RowDelta(value.float(), rows)
    return deltas


def _fits(base: Tensor | None, delta: RowDelta) -> bool:
    values, rows = delta.values, delta.rows
    if base is None:
        return False
    if rows is None:
        return base.shape == values.shape
    in_range = len(rows) == 0 or (int(rows.min()) >= 0 and int(rows.max()) < base.shape[0])
    return base.dim() == 2 and base.shape[1:] == values.shape[1:] and in_range


def apply_deltas(model: nn.Module, deltas: dict[str, RowDelta], where: str) -> None:
    """Add ``deltas`` to ``model``'s weights; every name, row and shape must be the model's."""
    state = model.state_dict()
    updated = {}
    for name, delta in deltas.items():
        base = state.get(name)
        if not _fits(base, delta):
            got = tuple(base.shape) if base is not None else "no such tensor"
            raise ModelLoadError(f"{where}: delta {name!r} {tuple(delta.values.shape)} does not fit the base encoder ({got})")
        full = base.float().clone()  # (R, C) or (C,)
        values = delta.values.to(base.device)
        if delta.rows is None:
            full += values
        else:
            full[delta.rows.to(base.device)] += values
        updated[name] = full.to(base.dtype)
    model.load_state_dict(updated, strict=False)
