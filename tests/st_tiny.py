"""Tiny sentence-transformers directories, saved by sentence-transformers itself."""

from __future__ import annotations

import torch

__all__ = ["save_st"]


def save_st(dest, base, pooling_mode, *, dense=None, normalize=False, max_seq_length=32):
    """A sentence-transformers directory over the tiny HF model ``base``: Transformer, Pooling
    (``pooling_mode``: a mode or a tuple of modes), an optional Dense to 16 dimensions with
    activation ``dense`` (a torch module), an optional Normalize."""
    from sentence_transformers import SentenceTransformer, models

    torch.manual_seed(1)
    transformer = models.Transformer(str(base), max_seq_length=max_seq_length)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling_mode)
    modules = [transformer, pooling]
    if dense is not None:
        modules.append(models.Dense(pooling.get_embedding_dimension(), 16, activation_function=dense))
    if normalize:
        modules.append(models.Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(dest), safe_serialization=True)
    return dest
