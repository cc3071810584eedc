"""``bertkit.Index``: a persistent vector index over passages of documents, searched dense or hybrid.

>>> index = Index.build(["First document ...", "Second ..."], ids=["a", "b"],
...                     metadata=[{"source": "wiki"}, {"source": "news"}])
>>> index.save("my-index")
>>> hits = Index.load("my-index").search(["what is first?"], top_k=5, filter={"source": "wiki"})
>>> hits[0][0].doc_id, hits[0][0].passage_id, hits[0][0].score

Documents are split into passages of at most ``passage_tokens`` tokens (overlapping by
``passage_overlap``); each passage remembers its document and character span. Search is
exact (a blocked matrix product and top-k) up to ``EXACT_LIMIT`` passages and through
usearch's HNSW graph above (``backend="auto"``); candidates of int8 and binary vectors are
rescored, and every score is the same whichever backend found the passage. Reads are
thread-safe: a search works on the table it started with while a writer adds or deletes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from bertkit.encoder.fingerprint import model_fingerprint
from bertkit.errors import ParameterError, UsageError
from bertkit.retrieval.ann import AnnGraph
from bertkit.retrieval.config import BACKENDS, IndexConfig
from bertkit.retrieval.documents import check_documents, make_table
from bertkit.retrieval.encoding import embed_vectors, embedder_for, encoder_name, make_embedder, model_path, pooling_name
from bertkit.retrieval.exact import exact_search, rows_topk
from bertkit.retrieval.filters import filter_mask
from bertkit.retrieval.hit import Hit
from bertkit.retrieval.lexical import bm25_for, reciprocal_rank_fusion
from bertkit.retrieval.passages import PassageSplitter
from bertkit.retrieval.precision import Quantizer, check_precision
from bertkit.retrieval.store import generation, read_index, write_index, writer_lock

__all__ = ["EXACT_LIMIT", "HYBRID_DEPTH", "Hit", "Index"]

EXACT_LIMIT = 200_000  # backend "auto": exact search up to this many passages (see README, Search)
HYBRID_DEPTH = 100  # each ranking fused by hybrid search holds max(top_k, this) passages


class Index:
    """Passages, their vectors and the encoder that made them; build with :meth:`build` or :meth:`load`."""

    def __init__(self, config: IndexConfig, table, quantizer: Quantizer, embedder, *, ann: AnnGraph | None = None,
                 path: Path | None = None) -> None:
        self.config, self._table, self.quantizer, self.embedder = config, table, quantizer, embedder
        self._ann = ann
        self._path, self._generation = path, generation(path) if path is not None else None
        self._write = threading.Lock()  # add / delete / save, one at a time
        self._ann_build = threading.Lock()

    # ---- building and loading -------------------------------------------------------------
    @classmethod
    def build(cls, texts: Sequence[str], ids: Sequence[str] | None = None, metadata: Sequence[dict] | None = None, *,
              embedder=None, model=None, pooling: str | None = None, precision: str = "fp32", dim: int | None = None,
              backend: str = "auto", passage_tokens: int | None = None, passage_overlap: int = 32,
              normalize: bool = True) -> "Index":
        """Split, embed and index ``texts`` (one per document); ``ids`` default to "0", "1", ...

        ``embedder`` (an :class:`~bertkit.Embedder`) or ``model`` (a directory; default the
        packaged MiniLM) with ``pooling`` (default: the directory's sentence-transformers
        pipeline, else mean); ``precision`` fp32 | fp16 | int8 |
        binary; ``dim`` keeps the first dimensions (renormalised); ``passage_tokens`` defaults
        to what the encoder reads at once.
        """
        if backend not in BACKENDS:
            raise ParameterError("backend", f"unknown backend {backend!r}; valid options: {', '.join(BACKENDS)}")
        texts, ids, metadata = check_documents(texts, ids, metadata)
        if not texts:
            raise ParameterError("texts", "empty corpus: there are no documents to index")
        given = embedder
        embedder = make_embedder(embedder, model, pooling)
        dim = embedder.dim if dim is None else int(dim)
        check_precision(precision, dim, embedder.dim)
        splitter = PassageSplitter(embedder.encoder, passage_tokens, passage_overlap)
        vectors, table = make_table(embedder, splitter, texts, ids, metadata, dim, normalize, first_key=0)
        quantizer = Quantizer.fit(precision, vectors)
        table = replace(table, **dict(zip(("vectors", "rescore"), quantizer.encode(vectors))))
        config = IndexConfig(
            encoder_fingerprint=model_fingerprint(embedder.encoder), encoder_name=encoder_name(embedder.encoder),
            encoder_path=model_path(embedder, model), pooling=pooling_name(embedder),
            pooling_given=pooling is not None or given is not None, normalize=normalize,
            max_length=embedder.max_length, model_dim=embedder.dim, dim=dim, precision=precision, backend=backend,
            passage_tokens=splitter.tokens, passage_overlap=splitter.overlap, documents=len(texts),
            passages=len(table), next_key=len(table),
        )
        index = cls(config, table, quantizer, embedder)
        if index.search_backend == "usearch":
            index._ann = index._graph_from(table, vectors)
        return index

    @classmethod
    def load(cls, path: str | os.PathLike, *, embedder=None, backend: str = "auto", dtype: str = "auto",
             device: str = "auto", search_backend: str | None = None) -> "Index":
        """Verify and open an index directory. ``embedder`` (or the encoder recorded in the index,
        run with ``backend``/``dtype``/``device``) must be the one the index was built with."""
        path = Path(path).expanduser()
        config, table, quantizer, ann_file = read_index(path)
        if search_backend is not None:
            if search_backend not in BACKENDS:
                raise ParameterError("search_backend", f"unknown backend {search_backend!r}; valid options: {', '.join(BACKENDS)}")
            config = replace(config, backend=search_backend)
        embedder = embedder_for(config, path, embedder, backend=backend, dtype=dtype, device=device)
        ann = AnnGraph.restore(ann_file, config.precision, config.dim) if ann_file is not None else None
        return cls(config, table, quantizer, embedder, ann=ann, path=path)

    def save(self, path: str | os.PathLike) -> None:
        """Write the index to ``path`` (a directory), replacing an older index there only when complete.

        Refused while another writer holds the directory, and when the index there changed
        since this one was loaded from it (another writer's additions would be lost).
        """
        path = Path(path).expanduser()
        with self._write, writer_lock(path):
            if self._path is not None and path.absolute() == self._path.absolute() and generation(path) != self._generation:
                raise UsageError(f"{path} was changed by another writer since it was loaded; load it again and repeat the change")
            ann = self._ann if self.search_backend == "usearch" else None
            if ann is None and self.search_backend == "usearch":
                ann = self._ensure_graph(self._table)
            write_index(path, replace(self.config, has_ann=ann is not None), self._table, self.quantizer, ann)
            self._path, self._generation = path, generation(path)

    # ---- changing ---------------------------------------------------------------------------
    def add(self, texts: Sequence[str], ids: Sequence[str] | None = None, metadata: Sequence[dict] | None = None) -> None:
        """Add documents (ids default to the next free numbers); an id already indexed is refused."""
        with self._write:
            table = self._table
            texts, ids, metadata = check_documents(texts, ids, metadata, start=self.config.documents, taken=set(table.doc_ids))
            if not texts:
                return
            cfg = self.config
            splitter = PassageSplitter(self.embedder.encoder, cfg.passage_tokens, cfg.passage_overlap)
            vectors, new = make_table(self.embedder, splitter, texts, ids, metadata, cfg.dim, cfg.normalize, first_key=cfg.next_key)
            new = replace(new, **dict(zip(("vectors", "rescore"), self.quantizer.encode(vectors))))
            if self._ann is not None:
                self._ann.add(new.keys, new.vectors if cfg.precision == "binary" else vectors)
            merged = table.concat(new)
            self._table = merged
            self.config = replace(cfg, documents=merged.documents(), passages=len(merged), next_key=cfg.next_key + len(new))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove documents (all their passages) by id; an unknown id is refused."""
        if isinstance(ids, str):
            ids = [ids]
        with self._write:
            table = self._table
            known = set(table.doc_ids)
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise ParameterError("ids", f"unknown document id {unknown[0]!r}: not in the index ({len(known)} documents)")
            gone = set(ids)
            keep = np.fromiter((d not in gone for d in table.doc_ids), dtype=bool, count=len(table))
            self._table = table.select(keep)
            if self._ann is not None:
                self._ann.remove(table.keys[~keep])
            self.config = replace(self.config, documents=self._table.documents(), passages=len(self._table))

    # ---- searching --------------------------------------------------------------------------
    def __len__(self) -> int:
        """The number of passages."""
        return len(self._table)

    @property
    def search_backend(self) -> str:
        """"exact" or "usearch": what :meth:`search` uses now (``auto`` resolved by size)."""
        if self.config.backend != "auto":
            return self.config.backend
        return "usearch" if len(self._table) > EXACT_LIMIT else "exact"

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Query vectors as the passages were embedded (truncated, normalised). # -> (Q, dim)"""
        return embed_vectors(self.embedder, list(queries), self.config.dim, self.config.normalize)

    def search(self, queries: Sequence[str], top_k: int = 10, *, filter: dict | None = None,
               hybrid: bool = False) -> list[list[Hit]]:
        """The ``top_k`` best passages per query, best first (fewer when fewer match ``filter``).

        ``hybrid=True`` fuses the dense ranking with BM25's by reciprocal rank fusion (k=60);
        the scores are then fusion scores. Thread-safe.
        """
        queries = [queries] if isinstance(queries, str) else list(queries)
        if any(not isinstance(q, str) for q in queries):
            raise ParameterError("queries", "queries must be strings")
        _check_top_k(top_k)
        table = self._table
        mask = filter_mask(table, filter)
        if not queries or not len(table):
            return [[] for _ in queries]
        vectors = self.embed_queries(queries)
        depth = max(top_k, HYBRID_DEPTH) if hybrid else top_k
        scores, rows = self._dense(table, vectors, depth, mask)
        if hybrid:
            _, lexical = bm25_for(table).search(queries, depth, mask)
            scores, rows = reciprocal_rank_fusion([rows, lexical], top_k)
        return [[_hit(table, r, s) for r, s in zip(row, score) if r >= 0][:top_k] for row, score in zip(rows, scores)]

    def search_vectors(self, vectors: np.ndarray, top_k: int = 10, *, filter: dict | None = None) -> list[list[Hit]]:
        """Dense search with query vectors already made (``embed_queries``). # (Q, dim)"""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.config.dim:
            raise ParameterError("vectors", f"query vectors must be (Q, {self.config.dim}), got {vectors.shape}")
        _check_top_k(top_k)
        table = self._table
        scores, rows = self._dense(table, vectors, top_k, filter_mask(table, filter))
        return [[_hit(table, r, s) for r, s in zip(row, score) if r >= 0] for row, score in zip(rows, scores)]

    def _dense(self, table, queries: np.ndarray, k: int, mask):
        """(scores, rows) of the best ``k`` per query. # (Q, D) -> (Q, k), (Q, k)"""
        precision = self.config.precision
        wide = k * (self.config.rescore_multiplier if precision in ("int8", "binary") else 1)
        if self.search_backend == "usearch" and mask is None:
            graph = self._ensure_graph(table)
            probe = np.packbits(queries > 0, axis=1) if precision == "binary" else queries
            rows = table.rows_of_keys(graph.search(probe, wide))
            return rows_topk(lambda q, r: self._row_scores(table, q, r), queries, rows, k)
        if precision != "binary":
            return exact_search(self.quantizer.scores, table.vectors, queries, k, mask)
        _, rows = exact_search(self.quantizer.scores, table.vectors, queries, wide, mask)  # Hamming
        return rows_topk(lambda q, r: self._row_scores(table, q, r), queries, rows, k)

    def _row_scores(self, table, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Full-precision-query scores of some rows (the rescoring step). # (D,), (m,) -> (m,)"""
        if self.config.precision in ("fp32", "fp16"):
            return table.vectors[rows].astype(np.float32) @ query
        stored = table.rescore if self.config.precision == "binary" else table.vectors
        return self.quantizer.int8_scores(query[None, :], stored[rows])[0]

    def _graph_from(self, table, vectors: np.ndarray | None = None) -> AnnGraph:
        graph = AnnGraph(self.config.precision, self.config.dim, self.config.normalize)
        if self.config.precision == "binary":
            graph.add(table.keys, table.vectors)
        else:
            graph.add(table.keys, vectors if vectors is not None else self.quantizer.dequantize(table.vectors, table.rescore))
        return graph

    def _ensure_graph(self, table) -> AnnGraph:
        """The approximate graph, built from the stored vectors on first use (once)."""
        if self._ann is None:
            with self._ann_build:
                if self._ann is None:
                    self._ann = self._graph_from(table)
        return self._ann

    def __repr__(self) -> str:
        c = self.config
        return (f"Index({c.documents} documents, {len(self)} passages, {c.encoder_name}, {c.pooling}, "
                f"{c.precision}, dim {c.dim}, {self.search_backend})")


def _check_top_k(top_k) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ParameterError("top_k", f"top_k must be a positive integer, got {top_k!r}")


def _hit(table, row: int, score: float) -> Hit:
    return Hit(table.passage_ids[row], table.doc_ids[row], float(score), table.texts[row],
               int(table.starts[row]), int(table.ends[row]), dict(table.metadata[row]))
