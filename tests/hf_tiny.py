"""Tiny random transformers task checkpoints, saved with ``save_pretrained`` (safetensors),
and transformers' own outputs on them: the references bertkit's loaders are held to."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
CLASS_LABELS = ["negative", "neutral", "positive"]
TEXTS = ["a gorgeous, witty film", "Obama visited Paris last spring with Michelle", "a dull mess", "no"]
QUESTIONS = ["Where was Marie Curie born?", "Which river flows through Brazil?"]
CONTEXTS = [
    "Marie Curie was born in Warsaw in 1867. She won the Nobel Prize in Physics in 1903.",
    "The Amazon river flows through Brazil. It is about 6,400 km long and ends in the Atlantic Ocean.",
]


def copy_tokenizer(dest: Path) -> None:
    """The packaged MiniLM's WordPiece tokenizer files (vocab 30,522) into ``dest``."""
    from bertkit.modeldir import default_model_dir

    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (default_model_dir() / name).exists():
            shutil.copy(default_model_dir() / name, dest / name)


def _config(labels: list[str], **extra):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128, initializer_range=0.3,  # far from uniform outputs, so parity means something
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)}, **extra,
    )


def save_checkpoint(directory: Path, task: str, *, multi_label: bool = False, seed: int = 0) -> Path:
    """``task``: classifier | qa | tagger; a tiny random BERT task model with the MiniLM tokenizer."""
    from transformers import (
        BertForQuestionAnswering,
        BertForSequenceClassification,
        BertForTokenClassification,
    )

    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    if task == "classifier":
        extra = {"problem_type": "multi_label_classification"} if multi_label else {}
        model = BertForSequenceClassification(_config(CLASS_LABELS, **extra))
    elif task == "qa":
        model = BertForQuestionAnswering(_config(["LABEL_0", "LABEL_1"]))
    else:
        model = BertForTokenClassification(_config(TAGS))
    model.save_pretrained(str(directory), safe_serialization=True)
    copy_tokenizer(directory)
    return directory


def reference(directory: Path, task: str):
    """transformers' own model and tokenizer for ``directory`` (eval mode)."""
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
    )

    auto = {"classifier": AutoModelForSequenceClassification, "qa": AutoModelForQuestionAnswering,
            "tagger": AutoModelForTokenClassification}[task]
    return auto.from_pretrained(str(directory)).eval(), AutoTokenizer.from_pretrained(str(directory))


def reference_probabilities(directory: Path, texts: list[str], multi_label: bool = False):
    """(N, C): softmax (or sigmoid for multi-label) of transformers' logits."""
    model, tokenizer = reference(directory, "classifier")
    with torch.no_grad():
        logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
    return (torch.sigmoid(logits) if multi_label else torch.softmax(logits, -1)).numpy()
