"""Evaluate a classifier on labelled data."""

from __future__ import annotations

from bertkit.classification.classifier import Classifier
from bertkit.classification.data import LabelMap, check_known_labels, read_examples
from bertkit.classification.metrics import classification_report
from bertkit.classification.options import parse_label_names

__all__ = ["evaluate_classifier"]


def evaluate_classifier(
    classifier: Classifier,
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
    """
    data = read_examples(path, text_column=text_column, label_column=label_column, pair_column=pair_column)
    renames = classifier.config.training.get("label_names")
    if renames:  # a model trained with --label-names 0=negative,... reads raw labels too
        mapping = parse_label_names(renames)
        data.labels = [mapping.get(label, label) for label in data.labels]
    label_map = LabelMap(tuple(classifier.labels))
    check_known_labels(data, label_map)
    probs = classifier.predict_proba(data.texts, data.pairs, batch_size=batch_size, progress=progress)
    return classification_report(label_map.encode(data.labels), probs.argmax(axis=1), label_map.labels)
