"""`bertkit index build --engine ray` (Ray local mode) writes the index the local build writes:
the same passages in the same order, vectors within 1e-5."""

import json

import numpy as np
import pytest

from bertkit.cli.app import main

pytestmark = pytest.mark.slow

WORDS = ["cats", "purr", "the capital", "of France", "rivers", "flow north", "a language", "compiles fast"]


def _corpus(path, n=14):
    rows = []
    for i in range(n):  # some documents long enough to be split into several passages
        text = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + 4 * (i % 5)))
        rows.append({"_id": f"d{i}", "title": f"Doc {i}", "text": text, "source": ["wiki", "news"][i % 2]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_index_build_on_ray_equals_the_local_build(ray_local, tiny_bert, tmp_path, capsys):
    from bertkit.retrieval import Index

    corpus = _corpus(tmp_path / "corpus.jsonl")
    common = [str(corpus), "--model", str(tiny_bert), "--embed-backend", "torch", "--dtype", "fp32",
              "--passage-tokens", "12", "--passage-overlap", "3"]
    assert main(["index", "build", *common, "-o", str(tmp_path / "local")]) == 0, capsys.readouterr().err
    assert main(["index", "build", *common, "-o", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2"]) == 0, \
        capsys.readouterr().err
    err = capsys.readouterr().err
    assert err.count("14 documents, ") == 2
    assert not (tmp_path / ".ray.ray-work").exists()  # the Ray work folder is removed once the index is written

    local, ray = Index.load(tmp_path / "local"), Index.load(tmp_path / "ray")
    a, b = local._table, ray._table
    assert len(a) > 14  # passages: some documents were split
    assert b.passage_ids == a.passage_ids and b.doc_ids == a.doc_ids and b.texts == a.texts
    assert np.array_equal(b.keys, a.keys) and np.array_equal(b.starts, a.starts) and b.metadata == a.metadata
    assert b.vectors.shape == a.vectors.shape
    assert np.abs(b.vectors - a.vectors).max() <= 1e-5
    assert ray.config.encoder_fingerprint == local.config.encoder_fingerprint and ray.config.pooling == local.config.pooling
    query = a.vectors[3:4]
    assert [h.passage_id for h in ray.search_vectors(query, 5)[0]] == [h.passage_id for h in local.search_vectors(query, 5)[0]]
