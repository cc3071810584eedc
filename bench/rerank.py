"""Dense retrieval alone vs dense + bertkit's reranker, and retrieve-then-read QA.

* SQuAD-open: every paragraph of ``dev-v1.1.json`` (3 articles the shipped reranker never
  saw) indexed with the packaged all-MiniLM-L6-v2 (``bertkit.Index``); each question's
  relevant document is its own paragraph. Dense top ``--candidates`` passages, then the
  reranker reorders them. nDCG@10, MRR@10 and recall@10 at the document level (a
  document's best passage counts), official (trec_eval) definitions.
* SciFact test (``--scifact``): BEIR corpus, test queries and qrels (graded gains).
* ``--qa``: open-domain EM/F1 of the shipped reader over the dev paragraphs, retrieving
  ``--passages`` passages with and without the reranker, beside the gold-paragraph score.

    python bench/rerank.py [--model DIR] [--candidates 20] [--limit N] [--qa] [--scifact] [--threads 2]

Writes its section of BENCHMARKS.md (``rerank``) and prints the same table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import DATA, machine, write_section  # noqa: E402

from bertkit.qa.squad import read_squad  # noqa: E402
from bertkit.rerank import Reranker  # noqa: E402
from bertkit.rerank.metrics import mrr_at, ndcg_at  # noqa: E402
from bertkit.retrieval import Index  # noqa: E402


def doc_ranking(hits, order=None) -> list[str]:
    """Document ids in ranked order, each once (its best passage)."""
    seen: dict[str, None] = {}
    for i in order if order is not None else range(len(hits)):
        seen.setdefault(hits[i].doc_id, None)
    return list(seen)


def scores(rankings: list[list[str]], qrels: list[dict[str, float]]) -> dict[str, float]:
    ndcg, mrr, rec = [], [], []
    for ranked, rel in zip(rankings, qrels):
        labels = [rel.get(d, 0.0) for d in ranked]
        ndcg.append(ndcg_at(labels, 10, ideal=list(rel.values())))
        mrr.append(mrr_at(labels, 10))
        rec.append(sum(1 for d in ranked[:10] if rel.get(d, 0) > 0) / max(1, sum(1 for v in rel.values() if v > 0)))
    return {"ndcg@10": 100 * float(np.mean(ndcg)), "mrr@10": 100 * float(np.mean(mrr)), "recall@10": 100 * float(np.mean(rec))}


def evaluate(index: Index, reranker: Reranker, queries: list[str], qrels: list[dict], candidates: int) -> dict:
    t0 = time.perf_counter()
    hits = index.search(queries, top_k=candidates)
    search_s = time.perf_counter() - t0
    dense = [doc_ranking(h) for h in hits]
    reranker.rank("warm-up", ["an ONNX export, if any, is built here"])  # not timed
    t0 = time.perf_counter()
    reranked, pairs = [], 0
    for q, h in zip(queries, hits):
        order = [r.index for r in reranker.rank(q, [x.text for x in h], return_documents=False)]
        reranked.append(doc_ranking(h, order))
        pairs += len(h)
    rerank_s = time.perf_counter() - t0
    recall_c = 100 * float(np.mean([any(rel.get(d, 0) > 0 for d in r) for r, rel in zip(dense, qrels)]))
    return {"dense": scores(dense, qrels), "dense+rerank": scores(reranked, qrels), "queries": len(queries),
            "candidates": candidates, f"dense recall@{candidates}": recall_c, "search_s": search_s,
            "rerank_pairs_per_s": pairs / max(rerank_s, 1e-9)}


def squad_open(args, reranker: Reranker) -> tuple[dict, Index, object]:
    data = read_squad(DATA / "squad" / "dev-v1.1.json")
    contexts = list(dict.fromkeys(ex.context for ex in data.examples))
    ids = {c: f"p{i}" for i, c in enumerate(contexts)}
    t0 = time.perf_counter()
    index = Index.build(contexts, [ids[c] for c in contexts])
    build_s = time.perf_counter() - t0
    examples = data.examples[: args.limit] if args.limit else data.examples
    result = evaluate(index, reranker, [ex.question for ex in examples], [{ids[ex.context]: 1.0} for ex in examples], args.candidates)
    result.update(paragraphs=len(contexts), passages=len(index), build_s=build_s)
    return result, index, data


def scifact(args, reranker: Reranker) -> dict:
    root = DATA / "scifact"
    corpus = [json.loads(line) for line in (root / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in (json.loads(line) for line in (root / "queries.jsonl").open())}
    qrels: dict[str, dict[str, float]] = {}
    for line in list((root / "qrels" / "test.tsv").open())[1:]:
        q, d, s = line.strip().split("\t")
        qrels.setdefault(q, {})[d] = float(s)
    index = Index.load(args.scifact_index) if args.scifact_index else Index.build(
        [(d.get("title", "") + " " + d["text"]).strip() for d in corpus], [d["_id"] for d in corpus])
    qids = sorted(qrels)[: args.scifact_limit] if args.scifact_limit else sorted(qrels)
    return evaluate(index, reranker, [queries[q] for q in qids], [qrels[q] for q in qids], args.candidates)


def open_qa(args, index: Index, reranker: Reranker, data) -> dict:
    from bertkit.qa.open_domain import evaluate_open
    from bertkit.qa.reader import Reader
    from bertkit.qa.squad import SquadData

    reader = Reader.load()
    limit = args.qa_limit or args.limit
    subset = SquadData(data.examples[:limit], data.version_2) if limit else data
    out = {"gold paragraph": {k: v for k, v in reader.evaluate(subset).metrics.items() if k in ("exact_match", "f1")}}
    for name, rr in (("dense", None), ("dense+rerank", reranker)):
        m = evaluate_open(reader, subset, index, rerank=rr, passages=args.passages, candidates=args.candidates)
        out[name] = {k: m[k] for k in ("exact_match", "f1", "own_paragraph_read")}
    return out


def table(title: str, r: dict) -> str:
    rows = [f"**{title}** ({r['queries']} queries; dense top {r['candidates']} reranked; dense recall@{r['candidates']} "
            f"{r[f'dense recall@' + str(r['candidates'])]:.1f})", "", "| system | nDCG@10 | MRR@10 | recall@10 |", "|---|---|---|---|"]
    for name in ("dense", "dense+rerank"):
        s = r[name]
        rows.append(f"| {name} | {s['ndcg@10']:.2f} | {s['mrr@10']:.2f} | {s['recall@10']:.2f} |")
    gain = r["dense+rerank"]["ndcg@10"] - r["dense"]["ndcg@10"]
    rows += ["", f"Reranker gain: {gain:+.2f} nDCG@10 points; reranking ran at {r['rerank_pairs_per_s']:.1f} pairs/s."]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="reranker directory (default: the shipped one)")
    ap.add_argument("--candidates", type=int, default=20)
    ap.add_argument("--limit", type=int, default=None, help="first N SQuAD dev questions")
    ap.add_argument("--qa", action="store_true")
    ap.add_argument("--passages", type=int, default=3)
    ap.add_argument("--qa-limit", type=int, default=None, help="first N questions for --qa (default: --limit)")
    ap.add_argument("--scifact", action="store_true")
    ap.add_argument("--scifact-index", default=None)
    ap.add_argument("--scifact-limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    reranker = Reranker.load(args.model)
    name = args.model or "the shipped reranker (bertkit/models/rerank)"
    squad, index, data = squad_open(args, reranker)
    parts = [f"Reranker: {name}; runtime {reranker.runtime}. Machine: {machine()}.", "",
             table("SQuAD-open (dev-v1.1: all 3 articles' paragraphs)", squad)]
    results = {"squad_open": squad}
    if args.scifact:
        results["scifact"] = sf = scifact(args, reranker)
        parts += ["", table("SciFact test (BEIR)", sf)]
    if args.qa:
        results["open_qa"] = qa = open_qa(args, index, reranker, data)
        n = args.qa_limit or args.limit or len(data.examples)
        parts += ["", f"**Open-domain QA** ({n} questions; shipped reader; {args.passages} passages read per question; SQuAD v1.1 metric)", "",
                  "| setting | EM | F1 | own paragraph read (%) |", "|---|---|---|---|"]
        for key in ("gold paragraph", "dense", "dense+rerank"):
            m = qa[key]
            parts.append(f"| {key} | {m['exact_match']:.2f} | {m['f1']:.2f} | {m.get('own_paragraph_read', 100.0):.1f} |")
    command = "python bench/rerank.py " + " ".join(sys.argv[1:])
    body = "## Rerank and retrieve-then-read\n\n`" + command.strip() + "`\n\n" + "\n".join(parts)
    print(body)
    print(json.dumps(results, indent=1))
    if not args.no_write:
        write_section("rerank", body)


if __name__ == "__main__":
    main()
