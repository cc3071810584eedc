"""Search benchmarks: retrieval quality (SciFact test, SQuAD-open), build rate, exact vs approximate, precisions.

    python bench/search.py --step scifact     # bertkit dense / BM25 / hybrid vs sentence-transformers (vectors cached)
    python bench/search.py --step squad       # SQuAD-open: dev-v1.1 + train-v1.1 questions against all their paragraphs
    python bench/search.py --step precision   # int8 / binary / --dim against fp32 (--data squad | scifact)
    python bench/search.py --step speed       # exact vs usearch: latency at 100k, recall@10 + QPS at 1M random unit vectors
    python bench/search.py --step ann-real    # usearch vs exact on the SciFact index's real vectors and test queries
    python bench/search.py --step ann-fitted --sizes 9631,1000000  # ... on vectors shaped like them, up to 1M
    python bench/search.py --step build-rate  # Index.build vs Embedder.embed (bertkit embed) on the same SQuAD paragraphs
    python bench/search.py --step report      # write the BENCHMARKS.md section from the saved results

Indexes, vectors and results are kept under /work/runs/search (``--runs``), not in the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from report import DATA, machine, write_section  # noqa: E402
from search_speed import load_average as _load  # noqa: E402
from search_speed import report_speed, step_ann_fitted, step_ann_real, step_speed  # noqa: E402
from search_speed import save_result as _save  # noqa: E402

from bertkit.retrieval import Index  # noqa: E402
from bertkit.retrieval.corpus import read_corpus  # noqa: E402
from bertkit.retrieval.evaluate import evaluate_index  # noqa: E402
from bertkit.retrieval.lexical import bm25_for  # noqa: E402
from bertkit.retrieval.metrics import METRICS, evaluate_run, read_qrels, read_queries  # noqa: E402


def _index(runs: Path, name: str, texts, ids, meta) -> tuple[Index, dict]:
    """The cached bertkit index (built once: the expensive embedding pass), with its build timing."""
    path = runs / f"{name}-index"
    timing_file = runs / f"{name}-build.json"
    if (path / "manifest.json").is_file():
        return Index.load(path), json.loads(timing_file.read_text())
    start = time.perf_counter()
    index = Index.build(texts, ids, meta)
    seconds = time.perf_counter() - start
    index.save(path)
    timing = {"documents": len(texts), "passages": len(index), "seconds": round(seconds, 1),
              "docs_per_s": round(len(texts) / seconds, 1), "passages_per_s": round(len(index) / seconds, 1)}
    timing_file.write_text(json.dumps(timing))
    return index, timing


def _st_vectors(runs: Path, name: str, texts: list[str]) -> np.ndarray:
    """sentence-transformers vectors of ``texts`` with the same model (cached)."""
    path = runs / f"{name}-st.npy"
    if path.exists():
        return np.load(path)
    from sentence_transformers import SentenceTransformer

    from bertkit.modeldir import default_model_dir

    model = SentenceTransformer(str(default_model_dir()), device="cpu")
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    np.save(path, vectors)
    return vectors


def _bm25_run(index: Index, queries: dict[str, str], depth: int = 100) -> dict[str, list[str]]:
    """BM25 alone over the same passages (bm25s), folded to documents (max-p)."""
    table = index._table
    ids = list(queries)
    _, rows = bm25_for(table).search([queries[q] for q in ids], depth * 2)
    run = {}
    for q, row in zip(ids, rows):
        docs = list(dict.fromkeys(table.doc_ids[r] for r in row if r >= 0))
        run[q] = docs[:depth]
    return run


def _st_run(st_docs: np.ndarray, doc_ids: list[str], st_queries: np.ndarray, qids: list[str]) -> dict[str, list[str]]:
    import torch
    from sentence_transformers import util

    hits = util.semantic_search(torch.from_numpy(st_queries), torch.from_numpy(st_docs), top_k=100)
    return {q: [doc_ids[h["corpus_id"]] for h in hs] for q, hs in zip(qids, hits)}


def _quality(runs: Path, name: str, texts, ids, meta, queries: dict[str, str], qrels, st_sample: int = 0,
             max_queries: int = 0) -> dict:
    index, build = _index(runs, name, texts, ids, meta)
    judged = {q: queries[q] for q in qrels if q in queries}
    if max_queries and len(judged) > max_queries:  # a deterministic spread over the questions
        step = len(judged) / max_queries
        keys = list(judged)
        judged = {keys[int(i * step)]: judged[keys[int(i * step)]] for i in range(max_queries)}
    qrels = {q: qrels[q] for q in judged}
    memo = dict(zip(judged.values(), index.embed_queries(list(judged.values()))))  # dense and hybrid embed each query once
    index.embed_queries = lambda texts: np.stack([memo[t] for t in texts])
    result = {"build": build, "queries": len(judged)}
    result["bertkit dense"] = evaluate_index(index, judged, qrels)
    result["BM25 (bm25s)"] = {**evaluate_run(_bm25_run(index, judged), qrels)}
    result["hybrid (RRF k=60)"] = evaluate_index(index, judged, qrels, hybrid=True)
    qids = list(judged)
    st_queries = _st_vectors(runs, f"{name}-queries-{len(qids)}", [judged[q] for q in qids])
    if st_sample:  # the CPU is shared: sentence-transformers embeds a sample of the documents (agreement only)
        keep = list(range(0, len(ids), max(1, len(ids) // st_sample)))[:st_sample]
        st_docs = _st_vectors(runs, f"{name}-sample-{st_sample}", [texts[i] for i in keep])
        result["agreement"] = _agreement(index, [ids[i] for i in keep], st_docs, [judged[q] for q in qids], st_queries)
        return result
    st_docs = _st_vectors(runs, name, texts)
    result["sentence-transformers semantic_search"] = evaluate_run(_st_run(st_docs, ids, st_queries, qids), qrels)
    result["agreement"] = _agreement(index, ids, st_docs, [judged[q] for q in qids], st_queries)
    return result


def _agreement(index: Index, ids: list[str], st_docs: np.ndarray, query_texts: list[str], st_queries: np.ndarray) -> dict:
    """Cosine of bertkit's vectors with sentence-transformers' (documents that are one passage; queries)."""
    table = index._table
    whole = {d: r for r, (d, p) in enumerate(zip(table.doc_ids, table.passage_ids)) if p == f"{d}#0"}
    split = {p.split("#")[0] for p in table.passage_ids if not p.endswith("#0")}
    single = [d for d in ids if d not in split]
    pos = {d: i for i, d in enumerate(ids)}
    rows = [whole[d] for d in single]
    ours = table.vectors[rows].astype(np.float32)
    cos_docs = (ours * st_docs[[pos[d] for d in single]]).sum(axis=1)
    cos_q = (index.embed_queries(query_texts) * st_queries).sum(axis=1)
    return {"documents_compared": len(single), "doc_cosine_mean": float(cos_docs.mean()), "doc_cosine_min": float(cos_docs.min()),
            "query_cosine_mean": float(cos_q.mean()), "query_cosine_min": float(cos_q.min()),
            "passages_per_document": round(len(table) / table.documents(), 3)}


def step_scifact(runs: Path, st_sample: int = 0) -> None:
    root = DATA / "scifact"
    corpus = read_corpus(str(root / "corpus.jsonl"))
    queries, qrels = read_queries(root / "queries.jsonl"), read_qrels(root / "qrels" / "test.tsv")
    result = _quality(runs, "scifact", corpus.texts, corpus.ids, corpus.metadata, queries, qrels, st_sample=st_sample)
    _save(runs, "scifact", result)


def squad_open() -> tuple[list[str], list[str], list[dict], dict[str, str], dict[str, dict[str, int]]]:
    """Every paragraph of dev-v1.1 + train-v1.1 as a document; each question's relevant one is its own."""
    texts, ids, meta, queries, qrels = [], [], [], {}, {}
    for split in ("dev-v1.1", "train-v1.1"):
        data = json.loads((DATA / "squad" / f"{split}.json").read_text())
        for a, article in enumerate(data["data"]):
            for p, para in enumerate(article["paragraphs"]):
                pid = f"{split}/{a}/{p}"
                texts.append(para["context"])
                ids.append(pid)
                meta.append({"title": article["title"], "split": split})
                for qa in para["qas"]:
                    queries[qa["id"]] = qa["question"]
                    qrels[qa["id"]] = {pid: 1}
    return texts, ids, meta, queries, qrels


def step_squad(runs: Path, st_sample: int = 0, max_queries: int = 0) -> None:
    texts, ids, meta, queries, qrels = squad_open()
    _save(runs, "squad", _quality(runs, "squad", texts, ids, meta, queries, qrels, st_sample, max_queries))


def _variant(index: Index, fp32: np.ndarray, precision: str, dim: int) -> Index:
    """The same passages stored another way (no re-embedding): truncate, renormalise, quantise."""
    from bertkit.retrieval.precision import Quantizer, truncate

    vectors = truncate(fp32, dim, True)
    quantizer = Quantizer.fit(precision, vectors)
    stored, rescore = quantizer.encode(vectors)
    table = replace(index._table, vectors=stored, rescore=rescore, cache={})
    config = replace(index.config, precision=precision, dim=dim, backend="exact")
    return Index(config, table, quantizer, index.embedder)


def _dataset(name: str):
    """(texts, ids, metadata, queries, qrels) of ``scifact`` (test) or ``squad`` (SQuAD-open)."""
    if name == "squad":
        return squad_open()
    root = DATA / "scifact"
    corpus = read_corpus(str(root / "corpus.jsonl"))
    return corpus.texts, corpus.ids, corpus.metadata, read_queries(root / "queries.jsonl"), read_qrels(root / "qrels" / "test.tsv")


def step_precision(runs: Path, data: str, max_queries: int = 0) -> None:
    from bertkit.retrieval.precision import bytes_per_vector

    texts, ids, meta, queries, qrels = _dataset(data)
    index, _ = _index(runs, data, texts, ids, meta)
    qids = [q for q in qrels if q in queries]
    if max_queries and len(qids) > max_queries:
        qids = [qids[int(i * len(qids) / max_queries)] for i in range(max_queries)]
    qvec = index.embed_queries([queries[q] for q in qids])  # (Q, 384)
    fp32 = index._table.vectors.astype(np.float32)
    reference = [[h.passage_id for h in r] for r in index.search_vectors(qvec, 10)]
    rows = {}
    for precision, dim in [("fp32", 384), ("fp16", 384), ("int8", 384), ("binary", 384), ("fp32", 256), ("fp32", 128), ("fp32", 64), ("int8", 128), ("binary", 256)]:
        variant = _variant(index, fp32, precision, dim)
        q = qvec[:, :dim] / np.linalg.norm(qvec[:, :dim], axis=1, keepdims=True)
        start = time.perf_counter()
        hits = variant.search_vectors(q, 200)
        seconds = time.perf_counter() - start
        recall = np.mean([len(set(h.passage_id for h in r[:10]) & set(ref)) / 10 for r, ref in zip(hits, reference)])
        run = {qid: list(dict.fromkeys(h.doc_id for h in r))[:100] for qid, r in zip(qids, hits)}
        metrics = evaluate_run(run, {q: qrels[q] for q in qids})
        rows[f"{precision} dim {dim}"] = {**bytes_per_vector(precision, dim), "recall@10_vs_fp32": round(float(recall), 4),
                                          "ndcg@10": round(metrics["ndcg@10"], 4), "recall@100": round(metrics["recall@100"], 4),
                                          "ms_per_query": round(1000 * seconds / len(qids), 2)}
    _save(runs, "precision", {"data": data, "rows": rows})


def step_build_rate(runs: Path, n: int) -> None:
    """Index.build vs Embedder.embed (what `bertkit embed` runs) on the same n SQuAD paragraphs, one embedder."""
    from bertkit.embeddings.embedder import Embedder

    data = json.loads((DATA / "squad" / "train-full-v1.1.json").read_text())
    texts = [p["context"] for a in data["data"] for p in a["paragraphs"]][:n]
    embedder = Embedder()
    embedder.embed(texts[:16])  # warm-up
    load = _load()
    start = time.perf_counter()
    built = Index.build(texts, embedder=embedder)
    t_build = time.perf_counter() - start
    load_mid = _load()
    start = time.perf_counter()
    embedder.embed(texts)
    t_embed = time.perf_counter() - start
    _save(runs, "build_rate", {
        "documents": n, "passages": len(built), "index_build_s": round(t_build, 1), "embed_s": round(t_embed, 1),
        "index_docs_per_s": round(n / t_build, 2), "index_passages_per_s": round(len(built) / t_build, 2),
        "embed_texts_per_s": round(n / t_embed, 2), "ratio_docs": round(t_embed / t_build, 3),
        "load_start": load, "load_mid": load_mid, "load_end": _load()})


def _report_quality(data: dict) -> list[str]:
    lines = []
    for name, title in (("scifact", "BEIR SciFact, {q} test queries, 5,183 abstracts"),
                        ("squad", "SQuAD-open: {q} questions (spread over the 7,073 of dev-v1.1 + train-v1.1) against all 1,354 of their paragraphs")):
        if name not in data:
            continue
        r = data[name]
        title = title.format(q=f"{r['queries']:,}")
        sample = "sentence-transformers semantic_search" not in r and name == "squad"
        lines += [f"### {title}", "", "`python bench/search.py --step " + name + (" --max-queries 1000 --st-sample 300" if sample else "") + "`", "",
                  "| ranking | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
        for system in ("bertkit dense", "sentence-transformers semantic_search", "BM25 (bm25s)", "hybrid (RRF k=60)"):
            if system in r:
                lines.append(f"| {system} | " + " | ".join(f"{r[system][m]:.4f}" for m in METRICS) + " |")
        if name == "scifact":
            lines += ["| published all-MiniLM-L6-v2 (MTEB; sentence-transformers, truncated at 256 tokens) | 0.6451 | | | | | |", "",
                      "Reranked rows (`--rerank default`): not run here; the shipped reranker is being retrained."]
        a, b = r["agreement"], r["build"]
        lines += ["", f"Vectors: cosine of bertkit's to sentence-transformers' (`SentenceTransformer.encode`, same model) {a['doc_cosine_mean']:.7f} mean, {a['doc_cosine_min']:.7f} worst over "
                  f"the {a['documents_compared']} documents that are one passage; queries {a['query_cosine_mean']:.7f} mean, {a['query_cosine_min']:.7f} worst "
                  f"({a['passages_per_document']} passages per document; sentence-transformers truncates at 256 tokens instead).",
                  f"Index build: {b['documents']} documents, {b['passages']} passages in {b['seconds']} s ({b['passages_per_s']} passages/s).", ""]
    return lines


def _report_build_rate(data: dict) -> list[str]:
    if "build_rate" not in data:
        return []
    r = data["build_rate"]
    return [f"### Index build rate vs `bertkit embed` (the first {r['documents']:,} paragraphs of SQuAD train-full-v1.1)", "",
            f"`python bench/search.py --step build-rate --paragraphs {r['documents']}` (one Embedder, the packaged MiniLM; "
            f"load average {r['load_start']} at the start, {r.get('load_mid', '-')} between the two, {r['load_end']} at the end)", "",
            "| | seconds | documents/s | passages (texts)/s |", "|---|---|---|---|",
            f"| `Index.build` (split, embed, quantise, table) | {r['index_build_s']} | {r['index_docs_per_s']} | {r['index_passages_per_s']} ({r['passages']} passages) |",
            f"| `Embedder.embed` (what `bertkit embed` runs; truncates at 256 tokens) | {r['embed_s']} | {r['embed_texts_per_s']} | {r['embed_texts_per_s']} |",
            "", f"Index build rate / embed rate (documents): {r['ratio_docs']}.", ""]


def _report_precision(data: dict) -> list[str]:
    if "precision" not in data:
        return []
    which = {"squad": "SQuAD-open", "scifact": "SciFact test"}[data["precision"]["data"]]
    lines = [f"### Precision and dimension ({which}: the fp32 index's vectors stored another way)", "",
             f"`python bench/search.py --step precision --data {data['precision']['data']} --max-queries 1000`", "",
             "| stored | bytes/vector scanned | bytes/vector total | recall@10 vs fp32 (passages) | nDCG@10 | recall@100 | ms/query (exact) |", "|---|---|---|---|---|---|---|"]
    for name, r in data["precision"]["rows"].items():
        lines.append(f"| {name} | {r['search']} | {r['total']} | {r['recall@10_vs_fp32']:.4f} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['ms_per_query']} |")
    return lines + ["", "int8 and binary candidates (top_k x 4) are rescored with the fp32 query against the int8 vectors; binary keeps an int8 copy for that (the total column).", ""]


def step_report(runs: Path) -> None:
    data = json.loads((runs / "results.json").read_text())
    lines = ["## Search (bench/search.py)", "", f"Machine: {machine()}; a CPU shared with other jobs while these ran, so times are upper bounds.",
             "Model: the packaged all-MiniLM-L6-v2 (bertkit's default runtime), documents split into passages of at most 254 tokens "
             "(32 overlapping), a document ranked by its best passage; metrics as trec_eval defines them (checked against pytrec_eval).", ""]
    lines += _report_quality(data) + _report_build_rate(data) + _report_precision(data) + report_speed(data)
    write_section("search", "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", required=True, choices=["scifact", "squad", "precision", "speed", "build-rate", "ann-real", "ann-fitted", "report"])
    parser.add_argument("--runs", type=Path, default=Path("/work/runs/search"))
    parser.add_argument("--st-sample", type=int, default=0, help="sentence-transformers embeds only this many documents, for the agreement (0: all, and its own ranking)")
    parser.add_argument("--max-queries", type=int, default=0, help="squad, precision: evaluate on this many questions spread over all (0: all)")
    parser.add_argument("--data", default="squad", choices=["squad", "scifact"], help="precision: the data set whose index is re-stored")
    parser.add_argument("--sizes", default="100000,1000000", help="speed, ann-fitted: numbers of vectors, comma-separated")
    parser.add_argument("--graph-max", type=int, default=1_000_000, help="speed: build the usearch graph only up to this many vectors")
    parser.add_argument("--noise", type=float, default=0.05, help="speed: per-dimension noise of the query copies")
    parser.add_argument("--ef", default="64,128,256,512", help="speed: usearch expansion_search values")
    parser.add_argument("--paragraphs", type=int, default=2000, help="build-rate: SQuAD paragraphs (train-full-v1.1)")
    args = parser.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    if args.step == "squad":
        step_squad(args.runs, args.st_sample, args.max_queries)
    elif args.step == "scifact":
        step_scifact(args.runs, args.st_sample)
    elif args.step == "precision":
        step_precision(args.runs, args.data, args.max_queries)
    elif args.step == "speed":
        step_speed(args.runs, [int(v) for v in args.sizes.split(",")], args.graph_max, args.noise, [int(v) for v in args.ef.split(",")])
    elif args.step == "ann-real":
        step_ann_real(args.runs, [int(v) for v in args.ef.split(",")])
    elif args.step == "ann-fitted":
        step_ann_fitted(args.runs, [int(v) for v in args.sizes.split(",")], [int(v) for v in args.ef.split(",")])
    elif args.step == "build-rate":
        step_build_rate(args.runs, args.paragraphs)
    else:
        step_report(args.runs)


if __name__ == "__main__":
    main()
