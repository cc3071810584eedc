"""Search speed benchmarks (run through bench/search.py): exact vs usearch's HNSW graph.

* ``--step speed``: random unit vectors (latency at 100k and 1M; graph recall against exact).
* ``--step ann-real``: the SciFact index's real vectors and its test queries.
* ``--step ann-fitted``: vectors drawn with the real vectors' mean and covariance, at up to 1M,
  queried with the real SciFact test queries: the 1M recall / queries-per-second goal.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from bertkit.retrieval import Index

__all__ = ["load_average", "report_speed", "save_result", "step_ann_fitted", "step_ann_real", "step_speed"]


def save_result(runs: Path, name: str, result: dict) -> None:
    """Store one step's result in RUNS/results.json (temporary file, then rename)."""
    path = runs / "results.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = result
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    print(json.dumps({name: result}, indent=1))


def random_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n random unit vectors. # (n, dim)"""
    rng = np.random.default_rng(seed)
    x = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - lo), dim), dtype=np.float32)
        x[lo : lo + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return x


def fitted_vectors(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n unit vectors drawn from a Gaussian with the real vectors' mean and covariance, renormalised.

    Real embeddings are far from uniform on the sphere (a few directions carry most of the
    variance); this keeps their spectrum, which is what makes a graph search easy or hard. # (n, D)
    """
    rng = np.random.default_rng(seed)
    mean = real.mean(0, dtype=np.float64)
    w, v = np.linalg.eigh(np.cov(real, rowvar=False))
    scale = (v * np.sqrt(np.clip(w, 0.0, None))).T.astype(np.float32)  # (D, D): z @ scale ~ N(0, cov)
    x = np.empty((n, real.shape[1]), dtype=np.float32)
    for lo in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - lo), real.shape[1]), dtype=np.float32) @ scale + mean.astype(np.float32)
        x[lo : lo + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return x


def vector_index(x: np.ndarray, backend: str) -> tuple[Index, float]:
    """An index over the vectors x (no texts): (index, seconds to build the graph)."""
    from bertkit.retrieval.config import IndexConfig
    from bertkit.retrieval.precision import Quantizer
    from bertkit.retrieval.table import Table

    n, dim = x.shape
    empty = [""] * n
    table = Table(np.arange(n, dtype=np.int64), x, None, [str(i) for i in range(n)], [str(i) for i in range(n)], empty,
                  np.zeros(n, np.int64), np.zeros(n, np.int64), [{}] * n)
    config = IndexConfig("-", "random", "-", "mean", False, True, 256, dim, dim, "fp32", backend, 254, 32, n, n, n)
    index = Index(config, table, Quantizer("fp32"), embedder=None)
    start = time.perf_counter()
    if backend == "usearch":
        index._ensure_graph(table)
    return index, time.perf_counter() - start


def latency(index: Index, queries: np.ndarray, k: int = 10) -> dict:
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search_vectors(q[None, :], k)
        times.append(time.perf_counter() - start)
    t = np.array(times) * 1000
    return {"p50_ms": round(float(np.percentile(t, 50)), 3), "p99_ms": round(float(np.percentile(t, 99)), 3),
            "qps_one_at_a_time": round(len(t) / (t.sum() / 1000), 1)}


def recall_at(a: list, b: list) -> float:
    """Share of the exact top-k passages the approximate search found. # by passage: a document may have several"""
    return float(np.mean([len({h.passage_id for h in x} & {h.passage_id for h in y}) / len(y) for x, y in zip(a, b)]))


def source_found(found: list, sources: np.ndarray) -> float:
    """Share of queries whose source vector (the one each is a noisy copy of) is in its top 10."""
    return float(np.mean([str(s) in {h.doc_id for h in hits} for hits, s in zip(found, sources)]))


def stored_bytes(x: np.ndarray) -> dict:
    """Bytes per vector each precision stores, measured on the arrays (vectors + binary's int8 copy)."""
    from bertkit.retrieval.config import PRECISIONS
    from bertkit.retrieval.precision import Quantizer

    sample = x[:10_000]
    out = {}
    for precision in PRECISIONS:
        stored, rescore = Quantizer.fit(precision, sample).encode(sample)
        out[precision] = {"scanned": stored.nbytes // len(sample),
                          "total": (stored.nbytes + (0 if rescore is None else rescore.nbytes)) // len(sample)}
    return out


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def step_speed(runs: Path, sizes: list[int], graph_max: int, noise: float, efs: list[int]) -> None:
    """Exact vs usearch on n random unit vectors; queries are noisy copies of indexed vectors.

    x + noise * N(0, I), renormalised: with 0.05 the query keeps cosine ~0.71 with its source,
    which is then its clear nearest neighbour; ranks 2-10 are random vectors nearly tied
    (cosine ~0.23-0.25), so recall@10 vs exact is a hard test of the graph's tie-breaking.
    """
    rng = np.random.default_rng(1)
    dim, n_queries = 384, 200
    result = {"queries": f"{n_queries} noisy copies of indexed vectors: x + {noise} * N(0, I), renormalised", "sizes": {}}
    for n in sizes:
        x = random_vectors(n, dim)
        exact, _ = vector_index(x, "exact")
        sources = rng.choice(n, n_queries, replace=False)
        q = x[sources] + noise * rng.standard_normal((n_queries, dim), dtype=np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        row = {"load_start": load_average(), "query_source_cosine": round(float((q * x[sources]).sum(1).mean()), 3)}
        if n == sizes[0]:
            result["bytes_per_vector"] = stored_bytes(x)
        start = time.perf_counter()
        truth = exact.search_vectors(q, 10)
        row["exact"] = {**latency(exact, q[:50]), "qps_batched": round(n_queries / (time.perf_counter() - start), 1),
                        "recall@10": 1.0, "source@10": round(source_found(truth, sources), 4)}
        result["sizes"][f"{n} x {dim}"] = row
        del exact
        if n > graph_max:
            row["usearch"] = f"not built (over --graph-max {graph_max})"
            save_result(runs, "speed", result)
            continue
        save_result(runs, "speed", result)
        approx, build_s = vector_index(x, "usearch")
        graph = approx._ann._graph
        row["usearch_build_s"] = round(build_s, 1)
        row["usearch_graph"] = {"connectivity": graph.connectivity, "expansion_add": graph.expansion_add,
                                "bytes_per_vector_saved": round(len(graph.save()) / n, 1)}  # vectors + links
        for ef in efs:
            approx._ann.expansion_search(ef)
            start = time.perf_counter()
            found = approx.search_vectors(q, 10)
            batched = n_queries / (time.perf_counter() - start)
            row[f"usearch ef={ef}"] = {**latency(approx, q[:100]), "qps_batched": round(batched, 1),
                                       "recall@10": round(recall_at(found, truth), 4), "source@10": round(source_found(found, sources), 4)}
        row["load_end"] = load_average()
        del approx, x
        save_result(runs, "speed", result)


def step_ann_real(runs: Path, efs: list[int]) -> None:
    """usearch vs exact on real vectors: the SciFact index (9,631 passages) and its 300 test queries."""
    index = Index.load(runs / "scifact-index", search_backend="exact")
    queries = np.load(runs / "scifact-queries-300-st.npy")  # sentence-transformers' query vectors (= bertkit's within 1e-7)
    start = time.perf_counter()
    truth = index.search_vectors(queries, 10)
    row = {"passages": len(index), "load_start": load_average(), "exact": {**latency(index, queries[:100]), "recall@10": 1.0,
           "qps_batched": round(len(queries) / (time.perf_counter() - start), 1)}}
    approx = Index.load(runs / "scifact-index", search_backend="usearch", embedder=index.embedder)
    start = time.perf_counter()
    approx._ensure_graph(approx._table)
    row["usearch_build_s"] = round(time.perf_counter() - start, 1)
    for ef in efs:
        approx._ann.expansion_search(ef)
        start = time.perf_counter()
        found = approx.search_vectors(queries, 10)
        row[f"usearch ef={ef}"] = {**latency(approx, queries[:100]), "recall@10": round(recall_at(found, truth), 4),
                                   "qps_batched": round(len(queries) / (time.perf_counter() - start), 1)}
    row["load_end"] = load_average()
    save_result(runs, "ann_real", row)


def _graph_row(approx: Index, queries: np.ndarray, truth: list, efs: list[int], build_s: float) -> dict:
    graph = approx._ann._graph
    row = {"usearch_build_s": round(build_s, 1), "usearch_graph": {"connectivity": graph.connectivity, "expansion_add": graph.expansion_add}}
    for ef in efs:
        approx._ann.expansion_search(ef)
        start = time.perf_counter()
        found = approx.search_vectors(queries, 10)
        row[f"usearch ef={ef}"] = {**latency(approx, queries[:100]), "recall@10": round(recall_at(found, truth), 4),
                                   "qps_batched": round(len(queries) / (time.perf_counter() - start), 1)}
    return row


def step_ann_fitted(runs: Path, sizes: list[int], efs: list[int]) -> None:
    """Exact vs usearch on vectors fitted to the SciFact index's real ones, queried with its real test queries.

    The first size may be the real index's own size, to check the fitted vectors against the
    real ones (``--step ann-real``) at the same n.
    """
    real = Index.load(runs / "scifact-index", search_backend="exact")._table.vectors  # (9631, 384)
    queries = np.load(runs / "scifact-queries-300-st.npy")  # (300, 384): the real test queries
    w = np.linalg.eigvalsh(np.cov(real, rowvar=False))[::-1]
    result = {"fitted_to": f"{len(real)} SciFact passage vectors", "queries": f"{len(queries)} SciFact test queries",
              "variance_top_10_percent_of_directions": round(float(w[: len(w) // 10].sum() / w.sum()), 3), "sizes": {}}
    for n in sizes:
        x = fitted_vectors(real, n)
        exact, _ = vector_index(x, "exact")
        row = {"load_start": load_average()}
        start = time.perf_counter()
        truth = exact.search_vectors(queries, 10)
        row["exact"] = {**latency(exact, queries[:50]), "recall@10": 1.0,
                        "qps_batched": round(len(queries) / (time.perf_counter() - start), 1)}
        del exact
        approx, build_s = vector_index(x, "usearch")
        row.update(_graph_row(approx, queries, truth, efs, build_s))
        row["load_end"] = load_average()
        result["sizes"][f"{n:,}"] = row
        save_result(runs, "ann_fitted", result)
        del approx, x


def report_speed(data: dict) -> list[str]:
    if "speed" not in data or "sizes" not in data["speed"]:
        return []
    sp = data["speed"]
    lines = ["### Exact vs approximate (random unit vectors, 384-d, top 10)", "",
             "`python bench/search.py --step speed --sizes 100000,1000000 --graph-max 100000`. "
             f"Queries: {sp['queries']} (cosine to the source ~0.71: the source is the clear nearest neighbour, ranks 2-10 are "
             "nearly tied random vectors, so recall@10 vs exact tests the graph's tie-breaking; source@10: the source is in the top 10).", "",
             "| vectors | search | p50 ms | p99 ms | queries/s one at a time | queries/s in a batch of 200 | recall@10 vs exact | source@10 |", "|---|---|---|---|---|---|---|---|"]
    for size, row in sp["sizes"].items():
        for name, r in row.items():
            if isinstance(r, dict) and "p50_ms" in r:
                lines.append(f"| {size} | {name} | {r['p50_ms']} | {r['p99_ms']} | {r['qps_one_at_a_time']} | {r['qps_batched']} | {r['recall@10']} | {r['source@10']} |")
        if "usearch_build_s" in row:
            g = row["usearch_graph"]
            lines.append(f"| {size} | usearch graph (connectivity {g['connectivity']}, expansion_add {g['expansion_add']}): built in {row['usearch_build_s']} s, "
                         f"{g['bytes_per_vector_saved']} bytes/vector saved | | | | | | |")
        else:
            lines.append(f"| {size} | usearch: {row.get('usearch', 'graph not built (over --graph-max)')} | | | | | | |")
        lines.append(f"| {size} | load average {row['load_start']} at the start" + (f", {row['load_end']} at the end" if "load_end" in row else "") + " | | | | | | |")
    if "ann_real" in data:
        r = data["ann_real"]
        lines += ["", f"Real vectors (`python bench/search.py --step ann-real`: the SciFact index, {r['passages']:,} passages, its 300 test queries; "
                  f"load average {r['load_start']}-{r['load_end']}; graph built in {r['usearch_build_s']} s):", "",
                  "| search | p50 ms | p99 ms | queries/s one at a time | queries/s in a batch of 300 | recall@10 vs exact |", "|---|---|---|---|---|---|"]
        for name, v in r.items():
            if isinstance(v, dict):
                lines.append(f"| {name} | {v['p50_ms']} | {v['p99_ms']} | {v['qps_one_at_a_time']} | {v['qps_batched']} | {v['recall@10']} |")
    lines += _report_fitted(data)
    bpv = sp.get("bytes_per_vector", {})
    if bpv:
        lines += ["", "Stored bytes per 384-d vector (measured on the arrays): " + "; ".join(
            f"{p} {v['scanned']}" + (f" scanned, {v['total']} with the int8 rescoring copy" if v["total"] != v["scanned"] else "") for p, v in bpv.items()) + "."]
    return lines + [""]


def _report_fitted(data: dict) -> list[str]:
    if "ann_fitted" not in data:
        return []
    r = data["ann_fitted"]
    sizes = ",".join(k.replace(",", "") for k in r["sizes"])
    lines = ["", f"Vectors shaped like real ones (`python bench/search.py --step ann-fitted --sizes {sizes}`): drawn from a Gaussian with "
             f"the mean and covariance of the {r['fitted_to']} (the top 10% of directions carry {r['variance_top_10_percent_of_directions']:.0%} "
             f"of the variance, as in the real vectors), renormalised; queries: the {r['queries']} (real); recall@10 against exact search "
             "over the same vectors. Speed-up: queries/s over exact's, both in one batch and one at a time.", "",
             "| vectors | search | p50 ms | p99 ms | queries/s one at a time | queries/s in a batch | recall@10 vs exact | speed-up batch / one |",
             "|---|---|---|---|---|---|---|---|"]
    for size, row in r["sizes"].items():
        ex = row["exact"]
        for name, v in row.items():
            if isinstance(v, dict) and "p50_ms" in v:
                up = f"{v['qps_batched'] / ex['qps_batched']:.1f}x / {v['qps_one_at_a_time'] / ex['qps_one_at_a_time']:.1f}x"
                lines.append(f"| {size} | {name} | {v['p50_ms']} | {v['p99_ms']} | {v['qps_one_at_a_time']} | {v['qps_batched']} | {v['recall@10']} | {up} |")
        g = row["usearch_graph"]
        lines.append(f"| {size} | graph (connectivity {g['connectivity']}, expansion_add {g['expansion_add']}) built in {row['usearch_build_s']} s; "
                     f"load average {row['load_start']}-{row['load_end']} | | | | | | |")
    return lines
