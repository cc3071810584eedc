"""Text classification: fine-tune an encoder with any pooling head, or train a light head
on cached features; compare poolings and ensemble them; evaluate and predict.

Names load on first use, so the torch-free modules (``data``, ``prediction``, ``warm``:
a warm ``classify predict`` never imports torch) import without the rest.
"""

from __future__ import annotations

from bertkit.io.lazy import lazy_exports

# public name -> the module that defines it
_EXPORTS = {
    "Classifier": "bertkit.classification.classifier",
    "Explanation": "bertkit.classification.prediction",
    "Prediction": "bertkit.classification.prediction",
    "load_classifier": "bertkit.classification.classifier",
    "Examples": "bertkit.classification.data",
    "LabelMap": "bertkit.classification.data",
    "read_examples": "bertkit.classification.data",
    "stratified_split": "bertkit.classification.data",
    "build_ensemble": "bertkit.classification.ensemble",
    "compact_classifier": "bertkit.classification.compact",
    "evaluate_classifier": "bertkit.classification.evaluate",
    "classification_report": "bertkit.classification.metrics",
    "confusion_matrix": "bertkit.classification.metrics",
    "HeadSpec": "bertkit.classification.model",
    "PoolingHead": "bertkit.classification.model",
    "TextClassifier": "bertkit.classification.model",
    "ClassifyData": "bertkit.classification.options",
    "HeadOptions": "bertkit.classification.options",
    "RunOptions": "bertkit.classification.options",
    "TrainReport": "bertkit.classification.train",
    "train_classifier": "bertkit.classification.train",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
