"""What a model is made of: module tree, parameter counts, the embedding layer in detail.

A BERT input embedding is the sum of three *learned* tables (word, position and
token type), followed by LayerNorm and dropout. All three tables are ordinary trainable
parameters: position and token-type embeddings are not fixed sinusoids.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from torch import nn

__all__ = ["ParamCount", "EmbeddingTable", "Anatomy", "describe_model"]


@dataclass
class ParamCount:
    name: str  # dotted module path ("" for the whole model)
    kind: str  # module class name
    params: int
    trainable: int
    children: list["ParamCount"] = field(default_factory=list)


@dataclass
class EmbeddingTable:
    name: str  # e.g. "word_embeddings"
    role: str  # "word", "position", "token type", "layer norm"
    shape: list[int]  # (rows, hidden) for tables, (hidden,) for LayerNorm
    params: int
    trainable: bool


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


_ROLES = {
    "word_embeddings": "word",
    "position_embeddings": "position",
    "token_type_embeddings": "token type",
    "LayerNorm": "layer norm",
    "layer_norm": "layer norm",
}


def _embedding_module(model: nn.Module) -> nn.Module | None:
    for name, module in model.named_modules():
        if name.endswith("embeddings") and any(hasattr(module, k) for k in ("word_embeddings", "position_embeddings")):
            return module
    return None


def describe_model(model: nn.Module, max_depth: int = 3) -> Anatomy:
    """Structure and parameter counts of a transformers encoder."""
    cfg = model.config
    embeddings: list[EmbeddingTable] = []
    emb_module = _embedding_module(model)
    if emb_module is not None:
        for child_name, child in emb_module.named_children():
            role = _ROLES.get(child_name)
            if role is None:
                continue
            weight = getattr(child, "weight", None)
            if weight is None:
                continue
            total, _ = _count(child)
            embeddings.append(
                EmbeddingTable(child_name, role, list(weight.shape), total, all(p.requires_grad for p in child.parameters()))
            )
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
        embeddings=embeddings,
        tree=_tree(model, "", 0, max_depth),
    )
