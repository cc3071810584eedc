"""Rerankers on the ONNX engine: ids -> relevance logits, with the int8 gate on ranking.

The int8 gate: on the calibration texts (each taken as a query against four candidate
passages from the same list), int8 must pick the same best passage as torch fp32 for at
least ``1 - INT8_MAX_METRIC_DROP/100`` of the queries.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from bertkit.encoder.encoder import Encoder
from bertkit.engine.onnx_export import ExportInfo
from bertkit.engine.quality import CALIBRATION_TEXTS, INT8_MAX_METRIC_DROP
from bertkit.engine.tasks import TaskExport, task_backend
from bertkit.rerank.model import pair_windows, relevance_graph

__all__ = ["build_export", "calibration_groups"]

_CANDIDATES = 4


def calibration_groups() -> tuple[list[str], list[str]]:
    """Each calibration text as a query, paired with itself shifted by 1..4 in the list. # N*4 pairs"""
    texts = list(CALIBRATION_TEXTS)
    queries = [q for q in texts for _ in range(_CANDIDATES)]
    passages = [texts[(i + k) % len(texts)] for i in range(len(texts)) for k in range(1, _CANDIDATES + 1)]
    return queries, passages


def _logits(encoder: Encoder, run, queries: list[str], passages: list[str]) -> np.ndarray:
    windows = pair_windows(encoder, queries, passages)
    out = np.zeros(len(queries), dtype=np.float32)
    for idx, batch in encoder.batches(windows, 32):
        out[[windows.sample[w] for w in idx]] = np.asarray(run(batch)).reshape(-1)
    return out


def _signature(head: nn.Module) -> str:
    """A bertkit head's pooling, or a transformers head's own signature (its class)."""
    signature = getattr(head, "signature", None)
    return signature if isinstance(signature, str) else head.spec.pooling


def build_export(encoder: Encoder, head: nn.Module, *, dtype: str, name: str) -> TaskExport:
    """Export the cross-encoder (cached by content); int8 is first vetted on the calibration groups."""
    from bertkit.engine.backends import TorchBackend

    graph = relevance_graph(encoder, head)

    def calibrate(candidate, info: ExportInfo) -> str | None:
        queries, passages = calibration_groups()
        ref = _logits(encoder, TorchBackend(graph, encoder.autocast).run, queries, passages).reshape(-1, _CANDIDATES)
        got = _logits(encoder, candidate.run, queries, passages).reshape(-1, _CANDIDATES)
        same = ref.argmax(axis=1) == got.argmax(axis=1)
        info.calibration_agreement = float(same.mean())
        needed = 1 - INT8_MAX_METRIC_DROP / 100
        if info.calibration_agreement < needed:
            return (f"it ranks another passage first for {int((~same).sum())} of {len(same)} calibration queries "
                    f"(agreement {100 * info.calibration_agreement:.1f}% < {100 * needed:.1f}%)")
        return None

    return task_backend(graph, graph.input_names, ["scores"], dtype=dtype, kind="classifier", name=name,
                        max_length=encoder.max_length, calibrate=calibrate, signature="rerank:" + _signature(head), labels=["relevance"])
