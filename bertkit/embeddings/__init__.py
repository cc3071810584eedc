"""Text and token embeddings: pooling strategies, layer selection, the Embedder."""

from bertkit.embeddings.embedder import Embedder, EmbedStats, WordVectors, embed
from bertkit.embeddings.layers import LayerSelection, parse_layers
from bertkit.embeddings.pooling import (
    POOLINGS,
    Pooling,
    PoolingInput,
    PoolingOutput,
    build_pooling,
    pooling_names,
    register_pooling,
)

__all__ = [
    "Embedder",
    "EmbedStats",
    "WordVectors",
    "embed",
    "LayerSelection",
    "parse_layers",
    "POOLINGS",
    "Pooling",
    "PoolingInput",
    "PoolingOutput",
    "build_pooling",
    "pooling_names",
    "register_pooling",
]
