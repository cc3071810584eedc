"""Text and token embeddings: pooling strategies, layer selection, the Embedder.

Names load on first use, so ``bertkit.embeddings.names`` (checked by the CLI before
any model loads) does not pull in torch.
"""

from __future__ import annotations

import importlib

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


def __getattr__(name: str):
    """Import a public name on first use (PEP 562), then keep it as a plain attribute."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
