"""Helpers for the reranker tests: tiny queries and passages, a CrossEncoder saved by sentence-transformers."""

from __future__ import annotations

import json
from pathlib import Path

import torch

QUERIES = ["where was marie curie born", "how long is the amazon river", "who wrote war and peace"]
PASSAGES = [
    "Marie Curie was born in Warsaw in 1867.",
    "The Amazon river is about 6,400 km long.",
    "War and Peace is a novel by Leo Tolstoy.",
    "Paris is the capital of France.",
]


def save_cross_encoder(base: Path, dest: Path, activation=None, seed: int = 0) -> Path:
    """A one-label CrossEncoder over ``base`` with a spread-out random head, saved by sentence-transformers."""
    from sentence_transformers import CrossEncoder

    torch.manual_seed(seed)
    kwargs = {} if activation is None else {"activation_fn": activation}
    ce = CrossEncoder(str(base), num_labels=1, device="cpu", **kwargs)
    with torch.no_grad():
        head = ce.model.classifier if hasattr(ce, "model") and hasattr(ce.model, "classifier") else None
        if head is None:
            head = next(m for n, m in ce.named_modules() if n.endswith("classifier"))
        head = getattr(head, "out_proj", head)  # RoBERTa / ELECTRA: dense -> out_proj
        head.weight.normal_(0, 3.0)  # scores far apart, so the order is a real test
        head.bias.fill_(0.3)
    ce.save(str(dest))
    return dest
