"""What a model is made of: module tree, parameter counts, the embedding layer in detail.

The embedding layer is described as the architecture has it (:mod:`bertkit.inspection.layout`):
BERT sums three *learned* tables (word, position and token type; trainable parameters,
not fixed sinusoids), DistilBERT has no token types, ALBERT and ELECTRA factorise the
embedding and project it, DeBERTa-v3 has no absolute positions (relative ones in
attention) and ModernBERT rotary positions and no token types.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from torch import nn

from bertkit.inspection.layout import EmbeddingTable, describe_layout

__all__ = ["ParamCount", "EmbeddingTable", "Anatomy", "describe_model"]


@dataclass
class ParamCount:
    name: str  # dotted module path ("" for the whole model)
    kind: str  # module class name
    params: int
    trainable: int
    children: list["ParamCount"] = field(default_factory=list)


@dataclass
class Anatomy:
    model_type: str
    architecture: str
    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    total_params: int
    trainable_params: int
    embeddings: list[EmbeddingTable]
    tree: ParamCount
    positions: str = "learned"  # learned, sinusoidal, relative, learned + relative, rotary, none
    token_types: int = 2  # rows of the token-type table (0: none)
    position_offset: int = 0  # position id = token index + this (RoBERTa: padding_idx + 1)
    embedding_summary: str = ""  # one line: what the embedding layer computes
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _count(module: nn.Module) -> tuple[int, int]:
    total = trainable = 0
    for p in module.parameters():
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return total, trainable


def _tree(module: nn.Module, name: str, depth: int, max_depth: int) -> ParamCount:
    total, trainable = _count(module)
    node = ParamCount(name, type(module).__name__, total, trainable)
    if depth < max_depth:
        for child_name, child in module.named_children():
            full = f"{name}.{child_name}" if name else child_name
            node.children.append(_tree(child, full, depth + 1, max_depth))
    return node


def describe_model(model: nn.Module, max_depth: int = 3) -> Anatomy:
    """Structure and parameter counts of a transformers encoder."""
    cfg = model.config
    layout = describe_layout(model)
    total, trainable = _count(model)
    return Anatomy(
        model_type=getattr(cfg, "model_type", "?"),
        architecture=type(model).__name__,
        num_layers=int(getattr(cfg, "num_hidden_layers", getattr(cfg, "n_layers", 0)) or 0),
        hidden_size=int(getattr(cfg, "hidden_size", getattr(cfg, "dim", 0)) or 0),
        num_heads=int(getattr(cfg, "num_attention_heads", getattr(cfg, "n_heads", 0)) or 0),
        intermediate_size=int(getattr(cfg, "intermediate_size", getattr(cfg, "hidden_dim", 0)) or 0),
        vocab_size=int(getattr(cfg, "vocab_size", 0) or 0),
        max_positions=int(getattr(cfg, "max_position_embeddings", 0) or 0),
        type_vocab_size=int(getattr(cfg, "type_vocab_size", 0) or 0),
        total_params=total,
        trainable_params=trainable,
        embeddings=layout.tables,
        tree=_tree(model, "", 0, max_depth),
        positions=layout.positions,
        token_types=layout.token_types,
        position_offset=layout.position_offset,
        embedding_summary=layout.summary,
        notes=layout.notes,
    )
