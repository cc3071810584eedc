"""The shipped reranker (bertkit/models/rerank): verified, small, loads by default and ranks."""

from __future__ import annotations

import json

from bertkit.io.files import tree_bytes
from bertkit.modeldir import default_model_dir
from bertkit.rerank import Reranker


def test_shipped_directory_is_small_and_delta_based():
    path = default_model_dir("rerank")
    config = json.loads((path / "bertkit.json").read_text())
    assert config["task"] == "rerank" and config["encoder"]["adapter"] == "delta" and config["encoder"]["source"] == "default"
    assert tree_bytes(path) <= 10_000_000


def test_default_reranker_loads_and_ranks(one_thread):
    """Loads by default and ranks every document. (Its quality is measured by bench/rerank.py, not
    asserted here: the shipped checkpoint is undertrained and ranks below dense retrieval, see the README.)"""
    reranker = Reranker.load(None, backend="torch", dtype="fp32")
    docs = ["The Eiffel Tower is in Paris and was finished in 1889.",
            "Marie Curie was born in Warsaw and won two Nobel Prizes.",
            "The Amazon is the largest rainforest on Earth."]
    ranked = reranker.rank("Where was Marie Curie born?", docs)
    assert sorted(r.index for r in ranked) == [0, 1, 2]
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert Reranker.load("default", backend="torch", dtype="fp32").path == reranker.path
