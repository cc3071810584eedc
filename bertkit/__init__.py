"""bertkit: put BERT-family encoders to work.

Embeddings with every common pooling, text classification, extractive question
answering and model inspection, on CPU or GPU, fully offline.
"""

import os as _os

_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bertkit.embeddings import (  # noqa: E402
    POOLING_NAMES,
    Embedder,
    EmbedStats,
    WordVectors,
    build_pooling,
    embed,
    parse_layers,
    pooling_names,
)
from bertkit.encoder import DEFAULT_MODEL_NAME, Encoder, default_model_dir  # noqa: E402
from bertkit.engine.runtime import Runtime  # noqa: E402
from bertkit.errors import BertkitError, InputError, ModelLoadError, ParameterError, UsageError  # noqa: E402
from bertkit.classification.classifier import Classifier, Explanation, Prediction, load_classifier  # noqa: E402
from bertkit.qa.reader import Reader, ReaderAnswer, load_reader  # noqa: E402
from bertkit import nn  # noqa: E402  (bertkit.nn.ContextualEmbedding, BiLSTM, KimCNN, CRF)
from bertkit.tagging.tagger import Entity, Tagger, load_tagger  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Embedder",
    "EmbedStats",
    "WordVectors",
    "embed",
    "Classifier",
    "Prediction",
    "Explanation",
    "load_classifier",
    "Reader",
    "ReaderAnswer",
    "load_reader",
    "nn",
    "Tagger",
    "Entity",
    "load_tagger",
    "Runtime",
    "Encoder",
    "DEFAULT_MODEL_NAME",
    "default_model_dir",
    "POOLING_NAMES",
    "build_pooling",
    "parse_layers",
    "pooling_names",
    "BertkitError",
    "InputError",
    "ModelLoadError",
    "UsageError",
    "ParameterError",
]
