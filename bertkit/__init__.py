"""bertkit: put BERT-family encoders to work.

Embeddings with every common pooling, text classification, extractive question
answering and model inspection, on CPU or GPU, fully offline.

The public names below are imported on first use (PEP 562 ``__getattr__``), so
``import bertkit`` (and every ``bertkit --help``) stays cheap: torch and
transformers load only when a name that needs them is touched.
``from bertkit import Embedder`` works as before.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Embedder": "bertkit.embeddings.embedder",
    "EmbedStats": "bertkit.embeddings.embedder",
    "WordVectors": "bertkit.embeddings.embedder",
    "embed": "bertkit.embeddings.embedder",
    "Classifier": "bertkit.classification.classifier",
    "Prediction": "bertkit.classification.classifier",
    "Explanation": "bertkit.classification.classifier",
    "load_classifier": "bertkit.classification.classifier",
    "Reader": "bertkit.qa.reader",
    "ReaderAnswer": "bertkit.qa.reader",
    "load_reader": "bertkit.qa.reader",
    "Tagger": "bertkit.tagging.tagger",
    "Entity": "bertkit.tagging.tagger",
    "load_tagger": "bertkit.tagging.tagger",
    "Reranker": "bertkit.rerank.reranker",
    "RankResult": "bertkit.rerank.reranker",
    "load_reranker": "bertkit.rerank.reranker",
    "Index": "bertkit.retrieval.index",
    "Hit": "bertkit.retrieval.hit",
    "Runtime": "bertkit.engine.runtime",
    "Encoder": "bertkit.encoder.encoder",
    "DEFAULT_MODEL_NAME": "bertkit.modeldir.paths",
    "default_model_dir": "bertkit.modeldir.paths",
    "POOLING_NAMES": "bertkit.embeddings.pooling",
    "build_pooling": "bertkit.embeddings.pooling",
    "pooling_names": "bertkit.embeddings.pooling",
    "parse_layers": "bertkit.embeddings.layers",
    "BertkitError": "bertkit.errors",
    "InputError": "bertkit.errors",
    "ModelLoadError": "bertkit.errors",
    "UsageError": "bertkit.errors",
    "ParameterError": "bertkit.errors",
}
_SUBMODULES = ("nn",)  # bertkit.nn.ContextualEmbedding, BiLSTM, KimCNN, CRF

__all__ = ["__version__", *_EXPORTS, *_SUBMODULES]


def __getattr__(name: str):
    """Import a public name on first use and keep it (later lookups are plain attributes)."""
    if name in _SUBMODULES:
        value = importlib.import_module(f"bertkit.{name}")
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'bertkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
