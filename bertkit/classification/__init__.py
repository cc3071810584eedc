"""Text classification: fine-tune an encoder with any pooling head, or train a light head
on cached features; compare poolings and ensemble them; evaluate and predict."""

from bertkit.classification.classifier import Classifier, Explanation, Prediction, load_classifier
from bertkit.classification.compact import compact_classifier
from bertkit.classification.data import Examples, LabelMap, read_examples, stratified_split
from bertkit.classification.ensemble import build_ensemble
from bertkit.classification.evaluate import evaluate_classifier
from bertkit.classification.metrics import classification_report, confusion_matrix
from bertkit.classification.model import HeadSpec, PoolingHead, TextClassifier
from bertkit.classification.options import ClassifyData, HeadOptions, RunOptions
from bertkit.classification.train import TrainReport, train_classifier

__all__ = [
    "Classifier",
    "Explanation",
    "Prediction",
    "load_classifier",
    "Examples",
    "LabelMap",
    "read_examples",
    "stratified_split",
    "build_ensemble",
    "compact_classifier",
    "evaluate_classifier",
    "classification_report",
    "confusion_matrix",
    "HeadSpec",
    "PoolingHead",
    "TextClassifier",
    "ClassifyData",
    "HeadOptions",
    "RunOptions",
    "TrainReport",
    "train_classifier",
]
