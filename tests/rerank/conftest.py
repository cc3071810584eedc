"""Fixtures for the reranker tests: a sentence-transformers CrossEncoder saved by the library
itself over the tiny BERT, and a small pairs file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerank_fixtures import PASSAGES, QUERIES, save_cross_encoder


@pytest.fixture(scope="session")
def cross_encoder_dir(tiny_bert, tmp_path_factory) -> Path:
    return save_cross_encoder(tiny_bert, tmp_path_factory.mktemp("ce") / "ce")


@pytest.fixture()
def pairs_file(tmp_path) -> Path:
    rows = []
    for qi, q in enumerate(QUERIES):
        for pi, p in enumerate(PASSAGES):
            rows.append({"query": q, "passage": p, "label": int(qi == pi)})
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
