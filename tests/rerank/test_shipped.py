"""The shipped reranker (bertkit/models/rerank): verified, small, loads by default and ranks."""

from __future__ import annotations

import json
import warnings

from bertkit.errors import BertkitWarning
from bertkit.io.files import tree_bytes
from bertkit.modeldir import default_model_dir
from bertkit.rerank import Reranker


def test_shipped_directory_is_small_and_delta_based():
    path = default_model_dir("rerank")
    config = json.loads((path / "bertkit.json").read_text())
    assert config["task"] == "rerank" and config["encoder"]["adapter"] == "delta" and config["encoder"]["source"] == "default"
    assert tree_bytes(path) <= 10_000_000


def test_default_reranker_loads_and_ranks(one_thread):
    """Loads by default, with no warning of bertkit's, and ranks every document, the relevant one
    first on this clear case. (Its quality is measured by bench/rerank.py on SQuAD dev articles.)"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reranker = Reranker.load(None, backend="torch", dtype="fp32")
    assert not [w for w in caught if issubclass(w.category, BertkitWarning)]
    docs = ["The Eiffel Tower is in Paris and was finished in 1889.",
            "Marie Curie was born in Warsaw and won two Nobel Prizes.",
            "The Amazon is the largest rainforest on Earth."]
    ranked = reranker.rank("Where was Marie Curie born?", docs)
    assert sorted(r.index for r in ranked) == [0, 1, 2]
    assert ranked[0].index == 1
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert Reranker.load("default", backend="torch", dtype="fp32").path == reranker.path
