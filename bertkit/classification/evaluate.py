"""Evaluate a classifier on labelled data.

``Classifier.evaluate`` calls this module, so it takes the classifier by its shape
(``labels``, ``config``, ``dtype``, ``predict_proba``, ``reference``, ``group_export``) and
does not import it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bertkit.classification.data import LabelMap, check_known_labels, read_examples
from bertkit.classification.metrics import classification_report
from bertkit.classification.options import parse_label_names
from bertkit.engine.quality import INT8_MAX_METRIC_DROP
from bertkit.engine.tasks import metric_gate, record_refusal
from bertkit.errors import ParameterError

__all__ = ["evaluate_classifier"]


def evaluate_classifier(
    classifier,  # a bertkit.classification.classifier.Classifier
    path: str,
    *,
    text_column: str = "text",
    label_column: str = "label",
    pair_column: str | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> dict:
    """Metrics of ``classifier`` on the file at ``path`` (labels the model never saw are refused).

    Raw labels renamed at training time (``--label-names``) are renamed here the same way.
    On int8 the same data also runs on torch fp32 (``int8_gate`` in the report), and int8
    is refused, for this run and later ones, when it loses more than 0.5 points.
    """
    data = read_examples(path, text_column=text_column, label_column=label_column, pair_column=pair_column)
    renames = classifier.config.training.get("label_names")
    if renames:  # a model trained with --label-names 0=negative,... reads raw labels too
        mapping = parse_label_names(renames)
        data.labels = [mapping.get(label, label) for label in data.labels]
    label_map = LabelMap(tuple(classifier.labels))
    check_known_labels(data, label_map)
    y_true = label_map.encode(data.labels)
    probs = classifier.predict_proba(data.texts, data.pairs, batch_size=batch_size, progress=progress)
    report = classification_report(y_true, probs.argmax(axis=1), label_map.labels)
    if classifier.dtype == "int8":
        report["int8_gate"] = _int8_gate(classifier, data, y_true, report["accuracy"], path, batch_size, progress)
    return report


def _int8_gate(classifier, data, y_true, accuracy: float, path: str, batch_size: int, progress: bool) -> dict:
    """Accuracy of the same model on torch fp32; refuse (and remember) int8 if it loses > 0.5 points."""
    reference = classifier.reference().predict_proba(data.texts, data.pairs, batch_size=batch_size, progress=progress)
    fp32 = float((reference.argmax(axis=1) == np.asarray(y_true)).mean())
    reason = metric_gate("accuracy (%)", 100 * fp32, 100 * accuracy, Path(path).name)
    if reason:
        for g in range(len(classifier.groups)):
            record_refusal(classifier.group_export(g), reason)
        raise ParameterError("dtype", f"int8 refused for {classifier.path}: {reason}; use dtype fp32")
    return {"fp32_accuracy": fp32, "int8_accuracy": accuracy, "max_drop_points": INT8_MAX_METRIC_DROP}
