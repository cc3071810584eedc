"""bertkit: put BERT-family encoders to work.

Embeddings with every common pooling, text classification, extractive question
answering and model inspection, on CPU or GPU, fully offline.
"""

import os as _os

_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bertkit.embeddings import (  # noqa: E402
    POOLINGS,
    Embedder,
    EmbedStats,
    WordVectors,
    build_pooling,
    embed,
    parse_layers,
    pooling_names,
    register_pooling,
)
from bertkit.encoder import DEFAULT_MODEL_NAME, Encoder, default_model_dir  # noqa: E402
from bertkit.errors import BertkitError, InputError, ModelLoadError, UsageError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Embedder",
    "EmbedStats",
    "WordVectors",
    "embed",
    "Encoder",
    "DEFAULT_MODEL_NAME",
    "default_model_dir",
    "POOLINGS",
    "build_pooling",
    "parse_layers",
    "pooling_names",
    "register_pooling",
    "BertkitError",
    "InputError",
    "ModelLoadError",
    "UsageError",
]
