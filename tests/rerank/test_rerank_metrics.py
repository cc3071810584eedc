"""MRR@10 and nDCG@10 match trec_eval (pytrec_eval) on the same runs."""

from __future__ import annotations

import numpy as np
import pytest

from bertkit.rerank.metrics import mrr_at, ndcg_at, ranking_metrics


def test_against_pytrec_eval():
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = np.random.default_rng(0)
    qrels, run, groups = {}, {}, []
    for q in range(30):
        labels = rng.integers(0, 3, size=15).astype(float)
        labels[rng.integers(0, 15)] = max(1.0, labels.max())  # at least one relevant
        scores = rng.normal(size=15)
        qrels[f"q{q}"] = {f"d{i}": int(y) for i, y in enumerate(labels)}
        run[f"q{q}"] = {f"d{i}": float(s) for i, s in enumerate(scores)}
        groups.append((scores, labels))
    want = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank"}).evaluate(
        {q: dict(r) for q, r in run.items()})
    ours = ranking_metrics(groups, 10)
    assert ours["ndcg@10"] == pytest.approx(100 * np.mean([v["ndcg_cut_10"] for v in want.values()]), abs=1e-6)
    # trec_eval's recip_rank has no cut-off; with one relevant in the top 10 of every query they agree
    rr = [mrr_at([labels[i] for i in np.argsort(-scores, kind="stable")], 10**6) for scores, labels in groups]
    assert np.mean(rr) == pytest.approx(np.mean([v["recip_rank"] for v in want.values()]), abs=1e-9)


def test_small_cases():
    assert mrr_at([0, 0, 1]) == pytest.approx(1 / 3)
    assert mrr_at([0] * 10 + [1]) == 0.0
    assert ndcg_at([1, 0]) == 1.0
    assert ndcg_at([0, 1]) == pytest.approx(1 / np.log2(3))
    assert ndcg_at([0, 1], ideal=[1, 1]) == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert ranking_metrics([([0.1, 0.2], [0, 0])])["queries"] == 0  # no relevant row: skipped
