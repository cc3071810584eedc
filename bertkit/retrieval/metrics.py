"""IR metrics with trec_eval's definitions (as BEIR reports them), and BEIR query / qrels files.

For a query with relevance judgements ``qrels[q] = {doc: grade}`` (grade > 0: relevant) and
a ranking ``run[q]`` (doc ids, best first):

- nDCG@k (trec_eval ``ndcg_cut_k``): sum of ``grade / log2(rank + 1)`` over the top k,
  divided by the same sum for the ideal ordering of the judged documents (linear gains);
- recall@k (``recall_k``): relevant documents in the top k / relevant documents;
- MRR@k: 1 / the rank of the first relevant document in the top k (0 if none), which is
  trec_eval's ``recip_rank`` on the ranking cut at k.

Averages run over the queries with at least one relevant document; a judged query absent
from the run scores 0 (trec_eval ``-c``). Checked against pytrec_eval in the tests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from bertkit.errors import InputError

__all__ = ["METRICS", "evaluate_run", "read_queries", "read_qrels"]

METRICS = ("ndcg@10", "recall@1", "recall@5", "recall@10", "recall@100", "mrr@10")


def _ndcg(ranking: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    dcg = sum(max(judged.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def _recall(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def _mrr(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    return next((1.0 / (i + 1) for i, d in enumerate(ranking[:k]) if d in relevant), 0.0)


def evaluate_run(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean of each of :data:`METRICS` over the judged queries, plus ``queries`` (how many)."""
    totals = dict.fromkeys(METRICS, 0.0)
    count = 0
    for query, judged in qrels.items():
        relevant = {d for d, g in judged.items() if g > 0}
        if not relevant:
            continue
        count += 1
        ranking = _dedupe(run.get(query, []))
        totals["ndcg@10"] += _ndcg(ranking, judged, 10)
        for k in (1, 5, 10, 100):
            totals[f"recall@{k}"] += _recall(ranking, relevant, k)
        totals["mrr@10"] += _mrr(ranking, relevant, 10)
    means = {m: (v / count if count else 0.0) for m, v in totals.items()}
    return {**means, "queries": count}


def _dedupe(ranking: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    return [d for d in ranking if not (d in seen or seen.add(d))]


def read_queries(path: str | Path) -> dict[str, str]:
    """BEIR ``queries.jsonl``: ``{"_id", "text"}`` per line -> {id: text}."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    queries: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="strict") as fh:
        try:
            lines = list(enumerate(fh, start=1))
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
    for number, line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {number}: malformed JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("_id", row.get("id")), (str, int)) or not isinstance(row.get("text"), str):
            raise InputError(f"{path}, line {number}: expected an object with '_id' and 'text' (strings)")
        queries[str(row.get("_id", row.get("id")))] = row["text"]
    if not queries:
        raise InputError(f"{path}: no queries found (empty file)")
    return queries


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV with a header: ``query-id<TAB>corpus-id<TAB>score`` -> {query: {doc: grade}}."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.rstrip("\r").split("\t")
        if not line.strip() or (number == 1 and not _is_int(fields[-1])):
            continue  # the header (query-id corpus-id score)
        if len(fields) == 4:  # TREC style: query 0 doc grade
            fields = [fields[0], fields[2], fields[3]]
        if len(fields) != 3 or not _is_int(fields[2]):
            raise InputError(f"{path}, line {number}: expected 'query-id<TAB>corpus-id<TAB>score' with an integer score")
        qrels.setdefault(fields[0], {})[fields[1]] = int(fields[2])
    if not qrels:
        raise InputError(f"{path}: no judgements found (empty qrels)")
    return qrels


def _is_int(text: str) -> bool:
    try:
        int(text)
        return True
    except ValueError:
        return False
