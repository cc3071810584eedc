"""Text and token embeddings: pooling strategies, layer selection, the Embedder.

Names load on first use, so ``bertkit.embeddings.names`` (checked by the CLI before
any model loads) does not pull in torch.
"""

from __future__ import annotations

from bertkit.io.lazy import lazy_exports

# public name -> the module that defines it
_EXPORTS = {
    "Embedder": "bertkit.embeddings.embedder",
    "EmbedStats": "bertkit.embeddings.embedder",
    "WordVectors": "bertkit.embeddings.embedder",
    "embed": "bertkit.embeddings.embedder",
    "LayerSelection": "bertkit.embeddings.layers",
    "parse_layers": "bertkit.embeddings.layers",
    "POOLING_NAMES": "bertkit.embeddings.pooling",
    "PoolingName": "bertkit.embeddings.pooling",
    "Pooling": "bertkit.embeddings.pooling",
    "PoolingInput": "bertkit.embeddings.pooling",
    "PoolingOutput": "bertkit.embeddings.pooling",
    "build_pooling": "bertkit.embeddings.pooling",
    "pooling_names": "bertkit.embeddings.pooling",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
