"""Extractive question answering: SQuAD data, windowed features, a span head, decoding,
the official metric, training, evaluation and a shipped default model."""

from bertkit.qa.decode import Candidate, Decoded, decode_spans, max_context_mask
from bertkit.qa.evaluate import EvalResult, evaluate_squad, write_predictions
from bertkit.qa.explain import TokenProbabilities, plot_token_probabilities, token_probabilities
from bertkit.qa.features import QAFeatures, build_features, label_window, truncate_questions
from bertkit.qa.metric import exact_match_score, f1_score, normalize_answer, squad_v1, squad_v2
from bertkit.qa.model import QAModel, SpanHead, span_loss
from bertkit.qa.modeldir import QAConfig, load_qa_model, save_qa_model
from bertkit.qa.predict import Predictions, answer_questions, check_questions
from bertkit.qa.reader import Reader, ReaderAnswer, load_reader
from bertkit.qa.engine import SpanEngine, span_graph
from bertkit.qa.squad import Answer, SquadData, SquadExample, parse_squad, read_squad
from bertkit.qa.threshold import ThresholdChoice, choose_null_threshold, write_null_threshold
from bertkit.qa.train import QATrainArgs, QATrainOutcome, train_qa

__all__ = [
    "ThresholdChoice",
    "choose_null_threshold",
    "write_null_threshold",
    "Answer",
    "SquadData",
    "SquadExample",
    "parse_squad",
    "read_squad",
    "QAFeatures",
    "build_features",
    "label_window",
    "truncate_questions",
    "QAModel",
    "SpanHead",
    "span_loss",
    "Candidate",
    "Decoded",
    "decode_spans",
    "max_context_mask",
    "normalize_answer",
    "exact_match_score",
    "f1_score",
    "squad_v1",
    "squad_v2",
    "QAConfig",
    "load_qa_model",
    "save_qa_model",
    "Predictions",
    "answer_questions",
    "check_questions",
    "Reader",
    "ReaderAnswer",
    "load_reader",
    "SpanEngine",
    "span_graph",
    "EvalResult",
    "evaluate_squad",
    "write_predictions",
    "QATrainArgs",
    "QATrainOutcome",
    "train_qa",
    "TokenProbabilities",
    "token_probabilities",
    "plot_token_probabilities",
]
