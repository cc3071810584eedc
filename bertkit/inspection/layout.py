"""How an architecture turns ids into its first hidden states: its input tables, as they are.

The families differ more than "the sum of three learned tables":

==========  ==============================================================================
BERT        word + learned position + token type (2 rows), LayerNorm
DistilBERT  word + learned position (fixed sinusoids with ``sinusoidal_pos_embds``); no token types
RoBERTa     word + learned position (offset by ``padding_idx + 1``) + one token-type row
ELECTRA     factorised: word + position + token type of size E, LayerNorm, projected to H
ALBERT      factorised like ELECTRA (the projection sits in the encoder); layers share weights
DeBERTa-v2  word only when ``position_biased_input`` is false (v3): positions enter every
            attention layer as relative positions (``encoder.rel_embeddings``); token
            types only when ``type_vocab_size`` > 0
ModernBERT  word only, LayerNorm; rotary positions (RoPE) rotate queries and keys in
            attention, no table; no token types
==========  ==============================================================================

Everything is read from the loaded modules and their config, so a variant (a DeBERTa-v2
with absolute positions, a BERT with ``position_embedding_type`` relative) is described as
it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

__all__ = ["EmbeddingTable", "Layout", "describe_layout"]

_ROLES = {
    "word_embeddings": "word",
    "tok_embeddings": "word",
    "position_embeddings": "position",
    "token_type_embeddings": "token type",
    "LayerNorm": "layer norm",
    "layer_norm": "layer norm",
    "norm": "layer norm",
    "embed_proj": "projection",
}
# parts outside the embedding module that belong to the input side
_OUTSIDE = {
    "embeddings_project": "projection",  # ELECTRA
    "encoder.embedding_hidden_mapping_in": "projection",  # ALBERT
    "encoder.rel_embeddings": "relative position",  # DeBERTa-v2
}


@dataclass
class EmbeddingTable:
    name: str  # its name in the embedding module ("word_embeddings"), or its dotted path outside it ("encoder.rel_embeddings")
    role: str  # "word", "position", "token type", "layer norm", "projection", "relative position", "relative norm"
    shape: list[int]  # (rows, size) for tables, (out, in) for a projection, (size,) for LayerNorm
    params: int
    trainable: bool


@dataclass
class Layout:
    positions: str  # "learned", "sinusoidal", "relative", "learned + relative", "rotary", "none"
    token_types: int  # rows of the token-type table (0: the model has none, 1: one constant row)
    position_offset: int  # added to a token's index to give its position id (RoBERTa: padding_idx + 1)
    summary: str  # one line: what the embedding layer computes
    tables: list[EmbeddingTable]
    notes: list[str]  # further facts about the architecture (shared layers, local attention)


def _table(name: str, module: nn.Module, role: str) -> EmbeddingTable | None:
    weight = getattr(module, "weight", None)
    if weight is None:
        return None
    params = sum(p.numel() for p in module.parameters())
    return EmbeddingTable(name, role, list(weight.shape), params, all(p.requires_grad for p in module.parameters()))


def _tables(model: nn.Module) -> list[EmbeddingTable]:
    tables: list[EmbeddingTable] = []
    modules = dict(model.named_modules())
    emb = modules.get("embeddings")
    if emb is not None:
        for child, module in emb.named_children():
            role = _ROLES.get(child)
            table = _table(child, module, role) if role else None
            if table is not None:
                tables.append(table)
    for name, role in _OUTSIDE.items():
        table = _table(name, modules[name], role) if name in modules else None
        if table is not None:
            tables.append(table)
    if "encoder.rel_embeddings" in modules and "layer_norm" in str(getattr(model.config, "norm_rel_ebd", "")):
        table = _table("encoder.LayerNorm", modules["encoder.LayerNorm"], "relative norm") if "encoder.LayerNorm" in modules else None
        if table is not None:
            tables.append(table)
    return tables


def _positions(model: nn.Module, cfg, roles: set[str]) -> str:
    rotary = any("rotary" in type(m).__name__.lower() for m in model.modules())
    if rotary:
        return "rotary"
    relative = "relative position" in roles or str(getattr(cfg, "position_embedding_type", "absolute")).startswith("relative")
    if "position" in roles:
        absolute = "sinusoidal" if getattr(cfg, "sinusoidal_pos_embds", False) else "learned"
        return f"{absolute} + relative" if relative else absolute
    return "relative" if relative else "none"


def _position_offset(model: nn.Module, cfg) -> int:
    """RoBERTa-style embeddings number positions from ``padding_idx + 1``."""
    emb = getattr(model, "embeddings", None)
    if emb is not None and hasattr(emb, "padding_idx") and hasattr(emb, "position_embeddings"):
        return int(emb.padding_idx) + 1
    return 0


def _summary(positions: str, token_types: int, tables: list[EmbeddingTable], offset: int, hidden: int) -> str:
    roles = [t.role for t in tables]
    sinusoidal = positions.startswith("sinusoidal")
    parts = ["word"]
    if "position" in roles:
        parts.append(("fixed sinusoidal position" if sinusoidal else "position") + (f" (ids from {offset})" if offset else ""))
    if token_types:
        parts.append("token type" + (" (one row)" if token_types == 1 else ""))
    sizes = {t.shape[1] for t in tables if t.role == "word"}
    size = f" of size {sizes.pop()}" if len(sizes) == 1 and "projection" in roles else ""
    kind = "" if sinusoidal else " learned"
    count = {2: "two", 3: "three"}.get(len(parts), str(len(parts)))
    head = f"the sum of {count}{kind} tables{size} ({', '.join(parts)})" if len(parts) > 1 else f"the{kind} word table{size} alone"
    norm = ", then LayerNorm" if "layer norm" in roles else ""
    proj = f", then a projection to {hidden}" if "projection" in roles else ""
    tail = {
        "rotary": "; positions are rotary (RoPE on queries and keys in attention, no table)",
        "relative": "; positions enter each attention layer as relative positions (encoder.rel_embeddings)",
        "none": "; no positions",
    }.get(positions, "")
    if positions.endswith("+ relative"):
        tail = "; attention adds relative positions too"
    if not token_types:
        tail += "; no token types"
    return f"{head}{norm}{proj}{tail}"


def _notes(cfg) -> list[str]:
    notes = []
    layers = int(getattr(cfg, "num_hidden_layers", 0) or 0)
    groups = getattr(cfg, "num_hidden_groups", None)
    if getattr(cfg, "model_type", "") == "albert" and groups:
        notes.append(f"the {layers} layers share {groups} set(s) of weights (num_hidden_groups {groups})")
    every = getattr(cfg, "global_attn_every_n_layers", None)
    if every and getattr(cfg, "local_attention", None):
        notes.append(f"global attention every {every} layers, local attention (window {cfg.local_attention}) in the others")
    if getattr(cfg, "relative_attention", False) and getattr(cfg, "pos_att_type", None):
        notes.append(f"disentangled attention: {', '.join(cfg.pos_att_type)} (content and relative-position terms)")
    return notes


def describe_layout(model: nn.Module) -> Layout:
    """The input side of a transformers encoder, read from its modules and config."""
    cfg = model.config
    tables = _tables(model)
    roles = {t.role for t in tables}
    token_types = next((t.shape[0] for t in tables if t.role == "token type"), 0)
    positions = _positions(model, cfg, roles)
    offset = _position_offset(model, cfg)
    hidden = int(getattr(cfg, "hidden_size", getattr(cfg, "dim", 0)) or 0)
    return Layout(positions, token_types, offset, _summary(positions, token_types, tables, offset, hidden), tables, _notes(cfg))
