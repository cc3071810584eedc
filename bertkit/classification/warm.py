"""The warm Classifier: a cached ONNX export of a classifier run without torch or transformers.

:class:`~bertkit.classification.classifier.Classifier` records a warm entry
(:mod:`bertkit.engine.fastpath`) when it runs its one encoder group on ONNX;
:func:`warm_classifier` finds that entry for the same request (the directory, and the
backend, dtype and device asked) and returns a :class:`WarmClassifier` whose
``predict`` gives the Classifier's predictions (the same tokenizer, batches, graph,
soft voting over the heads and :func:`~bertkit.classification.prediction.make_prediction`)
with ``tokenizers`` + ``onnxruntime`` + numpy only, or None when anything is missing or
cannot be verified (then load the Classifier).

Covered: single texts (no second texts), single models and ensembles that share one
encoder. Pairs, ensembles of fine-tuned members and ``--explain`` take the Classifier.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bertkit.classification.prediction import Prediction, make_prediction
from bertkit.engine.fastpath import WarmEntry, WarmStart, file_records, find_warm_start, is_recorded, save_entry, warm_key
from bertkit.engine.onnx_runner import TokenizedOnnx
from bertkit.errors import ParameterError
from bertkit.io.progress import progress_bar

__all__ = ["WarmClassifier", "classifier_request", "warm_classifier", "record_classifier"]

TASK = "classifier"


def classifier_request(path: str | os.PathLike | None) -> Path:
    """The directory a classifier request names (None: the shipped sentiment model)."""
    if path is None:
        from bertkit.modeldir.paths import default_model_dir

        return default_model_dir("classifier")
    return Path(path).expanduser()


class WarmClassifier:
    """The Classifier's ``predict`` / ``predict_proba`` over a verified warm entry. Thread-safe."""

    def __init__(self, start: WarmStart) -> None:
        entry = start.entry
        self.runtime = start.runtime
        self.labels: list[str] = list(entry.details["labels"])
        self.multi_label = bool(entry.details["multi_label"])
        self.path = Path(entry.details["path"])
        self._runner = TokenizedOnnx(entry.tokenizer, start.model_path, entry.input_keys, max_length=entry.max_length,
                                     pad_token_id=entry.pad_token_id, cut_prefixes=entry.cut_prefixes)

    def predict_proba(self, texts: list[str], *, batch_size: int = 32, progress=False) -> np.ndarray:
        """Soft-voting probabilities (mean over heads). # -> (N, C)"""
        tokenized = self._runner.tokenize(list(texts))
        with progress_bar(progress, total=len(tokenized.features), desc="classifying") as bar:
            outputs = self._runner.run(tokenized, batch_size, None, bar)
        if not outputs:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return outputs[0].mean(axis=1)  # (N, M, C) -> (N, C)

    def predict(self, texts: list[str], pairs: None = None, *, top_k: int = 1, batch_size: int = 32, progress=False) -> list[Prediction]:
        """Label, every label's probability and the ``top_k`` best per text (``pairs``: always None here)."""
        if pairs is not None:
            raise ParameterError("pairs", "the warm classifier reads single texts; load_classifier reads pairs")
        if top_k < 1:
            raise ParameterError("top_k", f"top_k must be >= 1, got {top_k}")
        probs = self.predict_proba(texts, batch_size=batch_size, progress=progress)
        return [make_prediction(p, self.labels, top_k, self.multi_label) for p in probs]


def warm_classifier(
    path: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto"
) -> WarmClassifier | None:
    """The warm Classifier for this request, or None (then :func:`load_classifier`)."""
    start = find_warm_start(TASK, classifier_request(path), {}, backend, dtype, device)
    if start is None:
        return None
    try:
        return WarmClassifier(start)
    except Exception:  # noqa: BLE001 - a session or tokenizer that will not load: the full path says why
        return None


def record_classifier(request: Path, asked: tuple[str, str, str], classifier, export) -> bool:
    """Record what ``classifier`` runs on its one group's ONNX ``export`` (a TaskExport) for
    :func:`warm_classifier`; False when it cannot be warm (pairs, several groups, a slow
    tokenizer) or the cache is read-only."""
    if len(classifier.groups) != 1 or classifier.config.pairs:
        return False
    encoder, heads = classifier.groups[0]
    settings = encoder.tokenizer_settings()
    if settings is None:
        return False
    key = warm_key(TASK, request, {}, *asked)
    if is_recorded(key, TASK, export.directory.name, export.info.content_hash):
        return True
    roots, files = file_records([classifier.path, encoder.path])
    entry = WarmEntry(
        TASK, [classifier.runtime.backend, classifier.runtime.dtype], str(classifier.path), export.directory.name,
        export.info.content_hash, sources=roots, files=files, **settings,
        details={"labels": list(classifier.labels), "multi_label": bool(classifier.multi_label), "heads": len(heads),
                 "path": str(classifier.path)},
    )
    return save_entry(key, entry)
