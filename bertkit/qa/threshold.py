"""Choose a SQuAD 2.0 model's null threshold on held-out questions, and store it in its directory.

The reader says "no answer" when null score - best span score (the question's *null
odds*) exceeds the threshold. The threshold that maximises F1 on the held-out questions
is found the way the official SQuAD 2.0 script finds ``best_f1_thresh``: every question
is answered with its best span, the questions are sorted by null odds, and each cut
point is scored. Choose it on a held-out part of the *training* data, never on the data
whose scores you report.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

from bertkit.errors import ParameterError
from bertkit.modeldir import finish_writing, rewrite_model_dir
from bertkit.qa.evaluate import evaluate_squad, metrics_at
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig, read_config
from bertkit.qa.squad import SquadData

__all__ = ["ThresholdChoice", "choose_null_threshold", "with_threshold", "write_null_threshold"]


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float  # null odds above this -> "no answer"
    f1: float  # F1 on the held-out questions at ``threshold``
    f1_before: float  # F1 there at the threshold the model had
    questions: int
    unanswerable: int
    source: str  # where the held-out questions came from (a file name)

    def describe(self) -> str:
        return (
            f"null threshold {self.threshold:.4g}: F1 {self.f1:.2f} (was {self.f1_before:.2f}) on {self.questions} "
            f"held-out questions ({self.unanswerable} unanswerable) of {self.source}"
        )


def choose_null_threshold(model: QAModel, config: QAConfig, data: SquadData, *, source: str = "", batch_size: int = 32) -> ThresholdChoice:
    """The F1-best null threshold of ``model`` on ``data`` (SQuAD 2.0 with unanswerable questions)."""
    unanswerable = sum(e.is_impossible for e in data.examples)
    if not data.version_2 or unanswerable == 0 or unanswerable == len(data.examples):
        raise ParameterError(
            "threshold_data",
            f"threshold_data {source or '(given)'} must be SQuAD 2.0 with both answerable and unanswerable questions "
            f"({unanswerable} of {len(data.examples)} are unanswerable)",
        )
    spans = evaluate_squad(model, config, data, batch_size=batch_size, null_threshold=math.inf)
    before = metrics_at(spans, data, config.null_threshold)["f1"]
    return ThresholdChoice(
        threshold=float(spans.metrics["best_f1_thresh"]), f1=float(spans.metrics["best_f1"]), f1_before=before,
        questions=len(data.examples), unanswerable=unanswerable, source=source,
    )


def with_threshold(config: QAConfig, choice: ThresholdChoice) -> QAConfig:
    """A copy of ``config`` with the chosen threshold, its origin recorded under ``training``."""
    record = {"value": round(choice.threshold, 6), "data": choice.source, "questions": choice.questions,
              "f1": round(choice.f1, 3), "f1_before": round(choice.f1_before, 3)}
    return replace(config, null_threshold=choice.threshold, training={**config.training, "null_threshold": record})


def write_null_threshold(directory: str | os.PathLike, choice: ThresholdChoice) -> QAConfig:
    """Store ``choice`` in a QA model directory (config and manifest rewritten; weights unchanged)."""
    path, config = read_config(directory)
    config = with_threshold(config, choice)
    with rewrite_model_dir(path) as stage:  # a copy with the new config, swapped in whole
        finish_writing(stage, config)
    return config
