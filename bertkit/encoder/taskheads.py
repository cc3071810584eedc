"""Hugging Face task checkpoints as they are: which task a directory holds, and its head.

A directory saved by ``transformers`` ``AutoModelForSequenceClassification``,
``...ForQuestionAnswering`` or ``...ForTokenClassification`` names its class in
``config.json`` (``architectures``). bertkit loads the whole task model once (safetensors,
offline, no custom code), runs its bare encoder (``task_model.base_model``) through the
one forward (:func:`bertkit.encoder.forward.run_encoder`) like any encoder, and applies
the checkpoint's own head modules (shared, not copied) to that output:

==========================  =====================================================
head                        what the checkpoint's class computes (and so do these)
==========================  =====================================================
sequence, BERT / ALBERT     ``classifier(pooler_output)``
sequence, DistilBERT        ``classifier(relu(pre_classifier(h[:, 0])))``
sequence, RoBERTa / ELECTRA ``classifier(h)`` (the head module takes ``h[:, 0]`` itself)
sequence, DeBERTa-v2        ``classifier(pooler(h))`` (its ContextPooler)
sequence, ModernBERT        ``classifier(head(pool(h)))`` (cls or mean, as configured)
tokens (QA, tagging)        ``qa_outputs(h)`` / ``classifier(h)`` (ModernBERT: after ``head``)
==========================  =====================================================

Dropout is left out (inference). Anything else is refused with one line.
"""

from __future__ import annotations

from torch import Tensor, nn

from bertkit.encoder.forward import EncoderOutput
from bertkit.errors import ModelLoadError

__all__ = ["HF_TASK_SUFFIXES", "hf_task_of", "hf_labels", "SequenceLogits", "TokenLogits", "auto_class"]

# bertkit task -> the suffix of the transformers class that holds it
HF_TASK_SUFFIXES = {
    "classifier": "ForSequenceClassification",
    "qa": "ForQuestionAnswering",
    "tagger": "ForTokenClassification",
}
_AUTO = {
    "classifier": "AutoModelForSequenceClassification",
    "qa": "AutoModelForQuestionAnswering",
    "tagger": "AutoModelForTokenClassification",
}


def hf_task_of(config: dict) -> tuple[str, str] | None:
    """(bertkit task, class name) named by a ``config.json``'s ``architectures``, or None."""
    for name in config.get("architectures") or []:
        for task, suffix in HF_TASK_SUFFIXES.items():
            if isinstance(name, str) and name.endswith(suffix):
                return task, name
    return None


def auto_class(task: str):
    """The transformers Auto class that loads ``task``'s checkpoints."""
    import transformers

    return getattr(transformers, _AUTO[task])


def hf_labels(config, where: str) -> list[str]:
    """Labels in output order, from ``id2label`` (keys are the output indices)."""
    id2label = getattr(config, "id2label", None) or {}
    try:
        ordered = sorted((int(k), str(v)) for k, v in id2label.items())
    except (TypeError, ValueError):
        raise ModelLoadError(f"{where}/config.json: 'id2label' keys must be integers 0..N-1") from None
    if [i for i, _ in ordered] != list(range(len(ordered))) or len(ordered) != int(config.num_labels):
        raise ModelLoadError(f"{where}/config.json: 'id2label' must name every output 0..{int(config.num_labels) - 1}")
    return [label for _, label in ordered]


class SequenceLogits(nn.Module):
    """EncoderOutput -> the checkpoint's logits (B, C) in float32, and no token weights.

    The same call shape as a bertkit ``PoolingHead`` (``(logits, None)``), so the
    classifier runs either on torch or ONNX the same way. ``multi_label`` heads are read
    through a sigmoid rather than a softmax.
    """

    needs_hidden_states = False

    def __init__(self, task_model: nn.Module, where: str) -> None:
        super().__init__()
        config = task_model.config
        self.model_type = str(config.model_type)
        self.multi_label = getattr(config, "problem_type", None) == "multi_label_classification"
        self.signature = f"hf:{type(task_model).__name__}:{'multi' if self.multi_label else 'single'}"
        self.pooling_mode = getattr(config, "classifier_pooling", "cls")
        self.classifier = task_model.classifier
        self.pre_classifier = getattr(task_model, "pre_classifier", None)  # DistilBERT
        self.pooler = getattr(task_model, "pooler", None)  # DeBERTa's ContextPooler (on the task model)
        self.head = getattr(task_model, "head", None)  # ModernBERT's prediction head
        if self.model_type == "modernbert":
            self.kind = "modernbert"
        elif self.pre_classifier is not None:
            self.kind = "distilbert"
        elif self.pooler is not None:
            self.kind = "pooler_module"
        elif hasattr(self.classifier, "out_proj"):
            self.kind = "features"  # RoBERTa / ELECTRA / XLM-R heads read h[:, 0] themselves
        elif getattr(task_model.base_model, "pooler", None) is not None and isinstance(self.classifier, nn.Linear):
            self.kind = "pooler_output"  # BERT, ALBERT
        else:
            raise ModelLoadError(
                f"{where}: bertkit does not know how {type(task_model).__name__} turns the encoder output into logits; "
                "supported: BERT, ALBERT, DistilBERT, RoBERTa, XLM-R, ELECTRA, DeBERTa-v2, ModernBERT sequence classifiers"
            )

    @property
    def needs_pooler(self) -> bool:
        return self.kind == "pooler_output"

    def forward(self, out: EncoderOutput) -> tuple[Tensor, None]:
        hidden = out.last_hidden_state.float()  # (B, T, H)
        if self.kind == "pooler_output":
            logits = self.classifier(out.pooler_output.float())  # (B, H) -> (B, C)
        elif self.kind == "distilbert":
            logits = self.classifier(nn.functional.relu(self.pre_classifier(hidden[:, 0])))
        elif self.kind == "pooler_module":
            logits = self.classifier(self.pooler(hidden))
        elif self.kind == "features":
            logits = self.classifier(hidden)
        else:  # modernbert
            if self.pooling_mode == "mean":
                mask = out.attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)  # (B, H)
            else:
                pooled = hidden[:, 0]
            logits = self.classifier(self.head(pooled))
        return logits.float(), None


class TokenLogits(nn.Module):
    """Token states (B, T, H) -> the checkpoint's per-token logits (B, T, C) in float32
    (``qa_outputs`` for QA: C = 2, start then end; ``classifier`` for token classification)."""

    def __init__(self, task_model: nn.Module, where: str) -> None:
        super().__init__()
        linear = getattr(task_model, "qa_outputs", None)
        if linear is None:
            linear = getattr(task_model, "classifier", None)
        if not isinstance(linear, nn.Linear):
            raise ModelLoadError(
                f"{where}: {type(task_model).__name__} has no linear token head (qa_outputs or classifier); bertkit cannot run it"
            )
        self.head = getattr(task_model, "head", None) if task_model.config.model_type == "modernbert" else None
        self.linear = linear

    @property
    def weight(self) -> Tensor:
        """The output layer's weight (where callers look for the head's device)."""
        return self.linear.weight

    def forward(self, hidden: Tensor) -> Tensor:
        hidden = hidden.float()  # (B, T, H)
        if self.head is not None:
            hidden = self.head(hidden)
        return self.linear(hidden).float()  # (B, T, C)
