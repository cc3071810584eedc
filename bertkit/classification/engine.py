"""Classifiers on the ONNX engine: one exported graph per encoder group (ids -> every
head's probabilities), with the int8 gate on label agreement and on accuracy."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from bertkit.classification.model import PoolingHead, tokenize
from bertkit.encoder.encoder import Encoder, EncoderOutput
from bertkit.engine.graph import EncoderGraph
from bertkit.engine.onnx_export import ExportInfo
from bertkit.engine.quality import CALIBRATION_TEXTS, INT8_MAX_METRIC_DROP
from bertkit.engine.tasks import TaskExport, task_backend

__all__ = ["HeadsProbabilities", "classifier_graph", "head_probabilities", "head_signature", "group_probabilities", "build_group_export",
           "calibration_inputs"]


def head_probabilities(heads, encoded: EncoderOutput) -> Tensor:
    """Every head's probabilities over one encoder output: softmax, or for a multi-label
    head (a transformers ``multi_label_classification`` checkpoint) a sigmoid per label. # -> (B, M, C) float32"""
    probs = []
    for head in heads:
        logits = head(encoded)[0].float()  # (B, C)
        probs.append(torch.sigmoid(logits) if getattr(head, "multi_label", False) else torch.softmax(logits, dim=-1))
    return torch.stack(probs, dim=1)


class HeadsProbabilities(nn.Module):
    """EncoderOutput -> each head's softmax probabilities. # -> (B, M, C) float32"""

    def __init__(self, heads: list[PoolingHead]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def forward(self, encoded: EncoderOutput) -> Tensor:
        return head_probabilities(self.heads, encoded)


def classifier_graph(encoder: Encoder, heads: list[PoolingHead]) -> EncoderGraph:
    """ids -> each head's probabilities, on the engine's one forward. # (B, T) x k -> (B, M, C)"""
    hidden = any(h.needs_hidden_states for h in heads)  # bertkit heads and transformers task heads alike
    return EncoderGraph(encoder.model, HeadsProbabilities(heads), encoder.input_keys, hidden_states=hidden, pooler=encoder.has_pooler).eval()


def head_signature(head) -> str:
    """What a head computes, for the export's cache key (its weights are hashed too)."""
    signature = getattr(head, "signature", None)  # a transformers task head (bertkit.encoder.taskheads)
    return signature if isinstance(signature, str) else f"{head.pooling.spec}@{head.spec.layers}"


def calibration_inputs(pairs: bool) -> tuple[list[str], list[str] | None]:
    """The calibration texts (for pair models, each text paired with the next)."""
    texts = list(CALIBRATION_TEXTS)
    if not pairs:
        return texts, None
    return texts, texts[1:] + texts[:1]


def group_probabilities(
    encoder: Encoder, run, texts: list[str], pairs: list[str] | None, num_heads: int, num_labels: int,
    batch_size: int = 32, progress: bool = False,
) -> np.ndarray:
    """Run a group's ``run(batch) -> (B, M, C)`` over texts, in input order. # -> (N, M, C)"""
    from bertkit.io.progress import progress_bar

    windows = tokenize(encoder, texts, pairs)
    out = np.zeros((len(texts), num_heads, num_labels), dtype=np.float32)
    # progress: a bool (a bar of its own) or the command's JobProgress (its one bar)
    with progress_bar(progress, total=len(texts), desc="classifying") as bar:
        for idx, batch in encoder.batches(windows, batch_size):
            out[[windows.sample[w] for w in idx]] = run(batch)
            bar.update(len(idx), tokens=int(batch["attention_mask"].sum()))
    return out


def build_group_export(encoder: Encoder, heads: list[PoolingHead], *, dtype: str, name: str, pairs: bool, labels: list[str]) -> TaskExport:
    """Export one encoder group; int8 is first vetted on the calibration texts.

    The calibration gate asks that int8 label at least ``1 - INT8_MAX_METRIC_DROP/100``
    of the calibration texts as fp32 does (on that sample, accuracy can then move by at
    most INT8_MAX_METRIC_DROP points whatever the true labels are).
    """
    from bertkit.engine.backends import TorchBackend

    graph = classifier_graph(encoder, heads)

    def calibrate(candidate, info: ExportInfo) -> str | None:
        texts, second = calibration_inputs(pairs)
        shape = (len(heads), len(labels))
        ref = group_probabilities(encoder, TorchBackend(graph, encoder.autocast).run, texts, second, *shape)
        got = group_probabilities(encoder, candidate.run, texts, second, *shape)
        same = (ref.argmax(-1) == got.argmax(-1)).all(axis=1)  # every head agrees
        info.calibration_agreement = float(same.mean())
        needed = 1 - INT8_MAX_METRIC_DROP / 100
        if info.calibration_agreement < needed:
            return (
                f"it labels {int((~same).sum())} of {len(same)} calibration texts differently from fp32 "
                f"(agreement {100 * info.calibration_agreement:.1f}% < {100 * needed:.1f}%)"
            )
        return None

    spec = "|".join(head_signature(h) for h in heads)
    return task_backend(
        graph, graph.input_names, ["probabilities"], dtype=dtype, kind="classifier", name=name,
        max_length=encoder.max_length, calibrate=calibrate, signature=spec, labels=list(labels),
    )
