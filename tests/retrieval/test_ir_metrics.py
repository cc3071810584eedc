"""nDCG@10, recall@k and MRR@10 against trec_eval (pytrec_eval), and the BEIR file readers."""

from __future__ import annotations

import numpy as np
import pytest

from bertkit.errors import InputError
from bertkit.retrieval.metrics import evaluate_run, read_qrels, read_queries


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    docs = [f"d{i}" for i in range(300)]
    qrels, run = {}, {}
    for q in range(40):
        judged = rng.choice(docs, size=rng.integers(1, 12), replace=False)
        qrels[f"q{q}"] = {d: int(rng.integers(0, 3)) for d in judged}
        pool = list(judged[: rng.integers(0, len(judged) + 1)]) + list(rng.choice(docs, size=150, replace=False))
        ranking = list(dict.fromkeys(pool))[:120]
        rng.shuffle(ranking)
        run[f"q{q}"] = ranking
    qrels["q-none"] = {"d1": 0}  # no relevant document: left out by both
    qrels["q-missing"] = {"d2": 1}  # judged but not retrieved: scores 0
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_with_pytrec_eval(seed):
    import pytrec_eval

    qrels, run = _random_case(seed)
    ours = evaluate_run(run, qrels)
    # trec_eval ranks by score: give strictly decreasing scores in our order
    scored = {q: {d: float(len(r) - i) for i, d in enumerate(r)} for q, r in run.items()}
    cut10 = {q: {d: float(10 - i) for i, d in enumerate(r[:10])} for q, r in run.items()}
    judged = {q: j for q, j in qrels.items() if any(g > 0 for g in j.values())}
    full = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.1,5,10,100"}).evaluate(scored)
    mrr = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(cut10)
    n = len(judged)  # trec_eval -c: a judged query without a ranking counts 0
    assert ours["queries"] == n
    assert ours["ndcg@10"] == pytest.approx(sum(v["ndcg_cut_10"] for v in full.values()) / n, abs=1e-9)
    for k in (1, 5, 10, 100):
        assert ours[f"recall@{k}"] == pytest.approx(sum(v[f"recall_{k}"] for v in full.values()) / n, abs=1e-9)
    assert ours["mrr@10"] == pytest.approx(sum(v["recip_rank"] for v in mrr.values()) / n, abs=1e-9)


def test_hand_computed_values():
    qrels = {"q": {"a": 2, "b": 1, "z": 1}}
    result = evaluate_run({"q": ["x", "a", "y", "b"]}, qrels)
    dcg = 2 / np.log2(3) + 1 / np.log2(5)
    idcg = 2 / np.log2(2) + 1 / np.log2(3) + 1 / np.log2(4)
    assert result["ndcg@10"] == pytest.approx(dcg / idcg)
    assert result["recall@1"] == 0 and result["recall@5"] == pytest.approx(2 / 3)
    assert result["mrr@10"] == pytest.approx(0.5)


def test_beir_readers(tmp_path):
    (tmp_path / "q.jsonl").write_text('{"_id": "1", "text": "what?"}\n\n{"_id": 2, "text": "who?"}\n')
    assert read_queries(tmp_path / "q.jsonl") == {"1": "what?", "2": "who?"}
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n1\tdA\t1\n1\tdB\t0\n2\tdC\t2\n")
    assert read_qrels(tmp_path / "qrels.tsv") == {"1": {"dA": 1, "dB": 0}, "2": {"dC": 2}}
    (tmp_path / "bad.jsonl").write_text('{"_id": "1", "text": "ok"}\n{"_id": "2"\n')
    with pytest.raises(InputError, match=r"bad.jsonl, line 2: malformed JSON"):
        read_queries(tmp_path / "bad.jsonl")
    (tmp_path / "bad.tsv").write_text("query-id\tcorpus-id\tscore\n1\tdA\tone\n")
    with pytest.raises(InputError, match=r"bad.tsv, line 2: expected 'query-id<TAB>corpus-id<TAB>score'"):
        read_qrels(tmp_path / "bad.tsv")
    (tmp_path / "empty.tsv").write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(InputError, match="no judgements"):
        read_qrels(tmp_path / "empty.tsv")
