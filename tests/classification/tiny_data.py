"""Tiny random BERT models and tiny labelled data for the classification tests (and the CLI tests)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

POSITIVE = ["great", "wonderful", "lovely", "superb", "brilliant", "charming", "delightful", "moving"]
NEGATIVE = ["awful", "terrible", "dull", "boring", "horrible", "bad", "tedious", "clumsy"]


def make_tiny_bert(directory: Path, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertModel

    from bertkit.encoder.loading import default_model_dir

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(str(directory), safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        src = default_model_dir() / name
        if src.exists():
            shutil.copyfile(src, directory / name)
    return directory


def write_rows(path: Path, rows: list[dict], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def sentiment_rows(n: int = 24) -> list[dict]:
    rows = []
    for i in range(n):
        words = POSITIVE if i % 2 else NEGATIVE
        rows.append({"text": f"a {words[i % len(words)]} film, {words[(i // 2) % len(words)]} acting", "label": "pos" if i % 2 else "neg"})
    return rows


def classify_parts(**options) -> dict:
    """``train_classifier``'s arguments (data, out, head, run, model) from one flat set of options."""
    from dataclasses import fields

    from bertkit.classification import ClassifyData, HeadOptions, RunOptions

    parts = {}
    rest = dict(options)
    for name, cls in (("data", ClassifyData), ("head", HeadOptions), ("run", RunOptions)):
        names = set(getattr(cls, "model_fields", None) or {f.name for f in fields(cls)})  # RunOptions is pydantic
        parts[name] = cls(**{k: rest.pop(k) for k in list(rest) if k in names})
    out, model = rest.pop("out"), rest.pop("model", None)
    if rest:
        raise TypeError(f"unknown training options: {', '.join(rest)}")
    return dict(parts, out=out, model=model, run=parts["run"].for_head(parts["head"]))
