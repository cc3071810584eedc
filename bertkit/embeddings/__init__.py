"""Text and token embeddings: pooling strategies, layer selection, the Embedder."""

from bertkit.embeddings.embedder import Embedder, EmbedStats, WordVectors, embed
from bertkit.embeddings.layers import LayerSelection, parse_layers
from bertkit.embeddings.pooling import (
    POOLING_NAMES,
    Pooling,
    PoolingInput,
    PoolingOutput,
    build_pooling,
    PoolingName,
    pooling_names,
)

__all__ = [
    "Embedder",
    "EmbedStats",
    "WordVectors",
    "embed",
    "LayerSelection",
    "parse_layers",
    "POOLING_NAMES",
    "PoolingName",
    "Pooling",
    "PoolingInput",
    "PoolingOutput",
    "build_pooling",
    "pooling_names",
]
