"""Evaluate a QA model on SQuAD data with the official metric; write predictions."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from bertkit.engine.quality import INT8_MAX_METRIC_DROP
from bertkit.engine.tasks import metric_gate, record_refusal
from bertkit.errors import ParameterError
from bertkit.io.atomic import atomic_write_text
from bertkit.qa.metric import squad_v1, squad_v2
from bertkit.qa.engine import SpanEngine
from bertkit.qa.model import QAModel
from bertkit.qa.modeldir import QAConfig
from bertkit.qa.predict import answer_questions
from bertkit.qa.squad import SquadData

__all__ = ["EvalResult", "evaluate_squad", "metrics_at", "squad_references", "write_predictions"]


@dataclass
class EvalResult:
    metrics: dict[str, float]  # the official script's keys
    predictions: dict[str, str]  # question id -> answer text ("" = no answer)
    null_odds: dict[str, float]  # question id -> null score - best span score
    version_2: bool
    questions_truncated: int = 0
    windows: int = 0
    int8_gate: dict | None = None  # int8 runs: F1 on torch fp32 and on int8

    def to_dict(self) -> dict:
        """The report as plain JSON types (the protocol's ``Report``)."""
        return {"metrics": dict(self.metrics), "version_2": self.version_2, "questions_truncated": self.questions_truncated,
                "windows": self.windows, "int8_gate": self.int8_gate, "predictions": dict(self.predictions)}

    @property
    def f1(self) -> float:
        return self.metrics["f1"]

    @property
    def exact(self) -> float:
        return self.metrics["exact" if self.version_2 else "exact_match"]


def evaluate_squad(
    model: QAModel,
    config: QAConfig,
    data: SquadData,
    *,
    batch_size: int = 32,
    null_threshold: float | None = None,
    progress: bool = False,
    engine: SpanEngine | None = None,
) -> EvalResult:
    """Predict every question of ``data`` and score it (v2.0 metric for SQuAD 2.0 data).

    SQuAD 1.1 guarantees an answer, so on 1.1 data the best span is always given, even by
    a model that can say "no answer". With an int8 ``engine`` the data also runs on torch
    fp32 (``metrics["int8_gate"]``), and int8 is refused, for this run and later ones, when
    its F1 is more than 0.5 points lower.
    """
    examples = data.examples
    threshold = config.null_threshold if null_threshold is None else null_threshold
    if not data.version_2:
        threshold = math.inf
    preds = answer_questions(
        model, config, [e.question for e in examples], [e.context for e in examples],
        batch_size=batch_size, null_threshold=threshold, progress=progress, engine=engine,
    )
    predictions = {e.id: (d.answer.text if d.answer is not None else "") for e, d in zip(examples, preds.decoded)}
    null_odds = {e.id: min(float(d.null_odds), 1e9) for e, d in zip(examples, preds.decoded)}  # finite for JSON
    references = squad_references(data)
    if data.version_2:
        metrics = squad_v2(references, predictions, null_odds, na_prob_thresh=threshold)
    else:
        metrics = squad_v1(references, predictions)
    result = EvalResult(metrics, predictions, null_odds, data.version_2, preds.questions_truncated, len(preds.features))
    if engine is not None and engine.dtype == "int8":
        reference = evaluate_squad(model, config, data, batch_size=batch_size, null_threshold=null_threshold, progress=progress)
        reason = metric_gate("F1", reference.f1, result.f1, f"these {len(data.examples)} questions")
        if reason:
            record_refusal(engine.export, reason)
            raise ParameterError("dtype", f"int8 refused for {engine.name}: {reason}; use dtype fp32")
        result.int8_gate = {"fp32_f1": reference.f1, "int8_f1": result.f1, "max_drop_points": INT8_MAX_METRIC_DROP}
    return result


def squad_references(data: SquadData) -> dict[str, list[str]]:
    """Question id -> reference answers as the metric reads them ([] for an unanswerable question)."""
    return {e.id: ([] if e.is_impossible else list(e.references)) for e in data.examples}


def metrics_at(spans: EvalResult, data: SquadData, null_threshold: float) -> dict[str, float]:
    """The SQuAD 2.0 metrics at ``null_threshold`` of an evaluation made at an infinite threshold
    (every question answered with its best span), without running the model again."""
    return squad_v2(squad_references(data), spans.predictions, spans.null_odds, na_prob_thresh=null_threshold)


def write_predictions(result: EvalResult, out_dir: str | os.PathLike) -> list[Path]:
    """predictions.json (and null_odds.json for SQuAD 2.0) in the official formats."""
    out = Path(out_dir)
    written = [out / "predictions.json"]
    atomic_write_text(written[0], json.dumps(result.predictions, indent=1, ensure_ascii=False) + "\n")
    if result.version_2:
        written.append(out / "null_odds.json")
        atomic_write_text(written[1], json.dumps(result.null_odds, indent=1) + "\n")
    return written
