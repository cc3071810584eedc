"""The Reranker's contract: typed, ordered results; empty input; bad input; threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bertkit.errors import ModelLoadError, ParameterError
from bertkit.rerank import RankResult, Reranker

from rerank_fixtures import PASSAGES, QUERIES


@pytest.fixture(scope="module")
def reranker(cross_encoder_dir):
    return Reranker.load(cross_encoder_dir)


def test_rank_is_sorted_best_first_and_top_k_cuts(reranker):
    results = reranker.rank(QUERIES[0], PASSAGES)
    assert all(isinstance(r, RankResult) for r in results)
    assert sorted(r.index for r in results) == list(range(len(PASSAGES)))
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    top = reranker.rank(QUERIES[0], PASSAGES, top_k=2)
    assert [r.index for r in top] == [r.index for r in results[:2]]
    assert reranker.rank(QUERIES[0], PASSAGES, return_documents=False)[0].text is None


def test_empty_inputs_give_empty_results(reranker):
    assert reranker.rank("q", []) == []
    out = reranker.score([])
    assert out.shape == (0,) and out.dtype == np.float32


def test_bad_inputs_name_the_parameter(reranker):
    with pytest.raises(ParameterError) as exc:
        reranker.rank("q", PASSAGES, top_k=0)
    assert exc.value.param == "top_k"
    with pytest.raises(ParameterError) as exc:
        reranker.score([("only one",)])
    assert exc.value.param == "pairs"
    with pytest.raises(ParameterError):
        reranker.rank(None, PASSAGES)


def test_threads_get_the_serial_results(reranker):
    serial = [reranker.rank(q, PASSAGES) for q in QUERIES * 3]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda q: reranker.rank(q, PASSAGES), QUERIES * 3))
    assert threaded == serial


def test_predict_batch_and_runtime(reranker):
    out = reranker.predict_batch([(QUERIES[0], PASSAGES[0]), (QUERIES[0], PASSAGES[3])])
    assert len(out) == 2 and set(out[0].to_dict()) == {"score", "logit"}
    assert reranker.predict_batch([]) == []
    assert reranker.runtime.backend == "torch"


def test_missing_directory_is_one_line(tmp_path):
    with pytest.raises(ModelLoadError, match="no such reranker directory"):
        Reranker.load(tmp_path / "nope")
