"""A bertkit classifier, reader or tagger as a transformers task directory.

``AutoModelForSequenceClassification / ForQuestionAnswering / ForTokenClassification
.from_pretrained(OUT)`` and ``transformers.pipeline(..., model=OUT)`` load the result
unchanged: config (``id2label``, ``label2id``, the architecture), ``model.safetensors``
and the tokenizer. The encoder is the one the predictor runs (LoRA adapters merged,
deltas applied); the head's weights go into the task model's own head layer. Only heads
that layer computes exactly are exported: transformers' sequence classifier for BERT and
ALBERT is dropout + a linear layer over the pooler output (dense + tanh over [CLS]), so a
bertkit classifier exports when its head is linear on pooling ``pooler`` (features-mode
standardisation is folded into the linear layer); span heads and linear taggers on the
last layer's first sub-word export for every architecture whose task model is a linear
layer there. Anything else is refused with one line naming what it would need. Before
the directory is renamed into place, the export is loaded back with transformers and its
outputs compared with the predictor's (within 1e-4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bertkit.encoder.quiet import quiet_loading
from bertkit.errors import ModelLoadError, UsageError
from bertkit.export.writing import edit_json, new_directory
from bertkit.modeldir import CONFIG_FILE

__all__ = ["HFExport", "TASK_CLASSES", "POOLER_CLASSIFIERS", "export_hf", "bertkit_task"]

# bertkit task -> the transformers auto class its export loads with
TASK_CLASSES = {"classifier": "AutoModelForSequenceClassification", "qa": "AutoModelForQuestionAnswering", "tagger": "AutoModelForTokenClassification"}
# model types whose ForSequenceClassification is dropout + Linear over the pooler output
POOLER_CLASSIFIERS = ("bert", "albert")
PROBE = ["A gorgeous, witty film that stays with you.", "Leo Tolstoy wrote War and Peace in Moscow.", "dull"]
TOLERANCE = 1e-4


@dataclass
class HFExport:
    directory: Path
    task: str
    architecture: str  # e.g. BertForSequenceClassification
    labels: list[str]
    max_abs_diff: float  # the export's outputs vs the predictor's, on probe inputs

    def to_dict(self) -> dict:
        return {"directory": str(self.directory), "task": self.task, "architecture": self.architecture,
                "labels": self.labels, "max_abs_diff": self.max_abs_diff}


def bertkit_task(source: Path) -> str:
    """The task of a bertkit model directory (its bertkit.json), refusing anything else in one line."""
    config = source / CONFIG_FILE
    if not config.is_file():
        if (source / "config.json").is_file():
            raise UsageError(f"{source} is already a Hugging Face directory (no {CONFIG_FILE}); transformers loads it as it is")
        raise ModelLoadError(f"{source}: no {CONFIG_FILE}; --format hf exports a bertkit classifier, QA reader or tagger directory")
    try:
        task = json.loads(config.read_text(encoding="utf-8")).get("task")
    except (ValueError, AttributeError, UnicodeDecodeError):
        raise ModelLoadError(f"{config}: not a JSON object") from None
    if task not in TASK_CLASSES:
        raise UsageError(f"--format hf: {source} is a bertkit {task!r} directory; hf exports {', '.join(TASK_CLASSES)} directories")
    return task


def _task_model(auto_class: str, encoder, labels: list[str] | None):
    """A fresh transformers task model over a copy of ``encoder``'s config, with its weights."""
    import transformers

    config = type(encoder.config).from_dict(encoder.config.to_dict())
    if labels is not None:
        config.num_labels = len(labels)
        config.id2label = dict(enumerate(labels))
        config.label2id = {label: i for i, label in enumerate(labels)}
    with quiet_loading():
        model = getattr(transformers, auto_class).from_config(config, trust_remote_code=False)
    missing, _ = model.base_model.load_state_dict(encoder.model.state_dict(), strict=False)
    if missing:  # pragma: no cover - the task model's encoder is the bare model
        raise UsageError(f"--format hf: {type(model).__name__} needs encoder weights bertkit does not have (e.g. {missing[0]})")
    return model.eval()


def _linear(module, name: str, arch: str, need: str) -> torch.nn.Linear:
    layer = getattr(module, name, None)
    if not isinstance(layer, torch.nn.Linear):
        raise UsageError(f"--format hf: {arch}'s head is not one linear layer ({need}); serve this model with bertkit instead")
    return layer


def _save(model, tokenizer, max_length: int, tmp: Path) -> None:
    with quiet_loading():  # no progress bar on stderr (nothing changed for the process)
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
    edit_json(tmp / "tokenizer_config.json", model_max_length=int(max_length))


def _check(diff: float, what: str) -> float:
    if not diff <= TOLERANCE:
        raise UsageError(f"--format hf: the transformers model does not reproduce this {what} (max difference {diff:.1e}); serve this model with bertkit instead")
    return diff


def _check_classifier_head(source: Path) -> None:
    """Refuse, from the config alone (before loading anything), a head transformers cannot express."""
    from bertkit.classification.config import read_config

    config = read_config(source)
    if config.kind != "single":
        raise UsageError("--format hf: an ensemble averages several models, which transformers cannot express; export one of its members/")
    spec = config.head
    if spec.sequence or spec.hidden or spec.pooling != "pooler":
        kind = "an MLP" if spec.hidden else f"a {spec.sequence}" if spec.sequence else "a linear layer"
        raise UsageError(
            f"--format hf: this classifier's head is {kind} on pooling {spec.pooling!r}; transformers' "
            "sequence classifier (BERT, ALBERT) is dropout + a linear layer over the pooler output (dense + tanh over [CLS]), "
            "so only a linear head on --pooling pooler exports exactly; serve this one with bertkit (bertkit serve, bertkit classify predict)"
        )


def _classifier(source: Path, tmp: Path) -> HFExport:
    from bertkit.classification.classifier import load_classifier
    from bertkit.classification.model import PoolingHead

    _check_classifier_head(source)
    clf = load_classifier(source, backend="torch", dtype="fp32", device="cpu")
    encoder, (head,) = clf.groups[0]
    spec = clf.config.head
    model_type = getattr(encoder.config, "model_type", "")
    if not isinstance(head, PoolingHead) or not head.layers.last_only:
        raise UsageError(f"--format hf: {source}'s head is not a bertkit pooling head on the last layer; serve it with bertkit")
    if model_type not in POOLER_CLASSIFIERS:
        raise UsageError(
            f"--format hf: transformers' {model_type} sequence classifier is not a linear layer over the pooler output "
            f"(only {', '.join(POOLER_CLASSIFIERS)}'s are), so this head cannot be expressed exactly; serve it with bertkit"
        )
    model = _task_model(TASK_CLASSES["classifier"], encoder, clf.labels)
    model.config.problem_type = "single_label_classification"
    weight, bias = head.classifier.weight.detach().float(), head.classifier.bias.detach().float()  # (C, H), (C,)
    if spec.standardize:  # (x - m) / s then W, b  ==  x W'^T + b' with W' = W / s, b' = b - W' m
        weight = weight / head.feature_std.float()
        bias = bias - weight @ head.feature_mean.float()
    out = _linear(model, "classifier", type(model).__name__, "dropout + linear over the pooler")
    with torch.no_grad():
        out.weight.copy_(weight)
        out.bias.copy_(bias)
    pairs = [p[::-1] for p in PROBE] if clf.config.pairs else None
    want = clf.predict_proba(PROBE, pairs)  # (N, C)
    tok = encoder.tokenizer(PROBE, pairs, padding=True, truncation=True, max_length=encoder.max_length, return_tensors="pt")
    with torch.inference_mode():
        got = model(**{k: v for k, v in tok.items() if k in encoder.input_keys}).logits.float().softmax(-1).numpy()
    diff = _check(float(np.abs(got - want).max()), "classifier")
    _save(model, encoder.tokenizer, encoder.max_length, tmp)
    return HFExport(tmp, "classifier", type(model).__name__, list(clf.labels), diff)


def _reader(source: Path, tmp: Path) -> HFExport:
    from bertkit.qa.model import QAModel
    from bertkit.qa.reader import load_reader

    reader = load_reader(source, backend="torch", dtype="fp32", device="cpu")
    if not isinstance(reader.model, QAModel):
        raise UsageError(f"{source} was loaded from a transformers checkpoint; transformers loads it as it is")
    encoder = reader.model.wrapped
    model = _task_model(TASK_CLASSES["qa"], encoder, None)
    out = _linear(model, "qa_outputs", type(model).__name__, "a linear layer giving start and end logits")
    with torch.no_grad():
        out.weight.copy_(reader.model.head.linear.weight)
        out.bias.copy_(reader.model.head.linear.bias)
    tok = encoder.tokenizer(["Who wrote War and Peace?", "When?"], [PROBE[1], PROBE[0]], padding=True, return_tensors="pt")
    batch = {k: v for k, v in tok.items() if k in encoder.input_keys}
    with torch.inference_mode():
        start, end = reader.model(batch)  # (B, T) each, padding masked
        ref = model(**batch)
    real = tok["attention_mask"].bool()
    diff = max(float((ref.start_logits - start).abs()[real].max()), float((ref.end_logits - end).abs()[real].max()))
    _check(diff, "reader")
    _save(model, encoder.tokenizer, reader.config.max_length, tmp)
    return HFExport(tmp, "qa", type(model).__name__, [], diff)


def _refuse_tagger(spec) -> None:
    raise UsageError(
        f"--format hf: this tagger's head is {spec.head!r} over the {spec.subword!r} sub-word of layers {spec.layers!r}; "
        "transformers' token classifier is one linear layer over each token of the last layer, so only --head linear "
        "with the first sub-word of the last layer exports exactly (a CRF or BiLSTM needs bertkit); use bertkit to serve it"
    )


def _check_tagger_head(source: Path) -> None:
    """Refuse, from the config alone, a tagger head transformers cannot express."""
    from bertkit.modeldir import read_model_dir
    from bertkit.tagging.modeldir import TaggerConfig

    spec = read_model_dir(source, TaggerConfig).spec
    if spec.head != "linear" or spec.subword != "first":
        _refuse_tagger(spec)


def _tagger(source: Path, tmp: Path) -> HFExport:
    from bertkit.tagging.model import TaggerModel
    from bertkit.tagging.tagger import load_tagger

    _check_tagger_head(source)
    tagger = load_tagger(source, backend="torch", dtype="fp32", device="cpu")
    net = tagger.model
    if not isinstance(net, TaggerModel):
        raise UsageError(f"{source} was loaded from a transformers checkpoint; transformers loads it as it is")
    spec, embedding = net.spec, net.embedding
    if not embedding.layers.last_only:
        _refuse_tagger(spec)
    encoder = embedding.runner
    model = _task_model(TASK_CLASSES["tagger"], encoder, list(tagger.labels))
    out = _linear(model, "classifier", type(model).__name__, "a linear layer over each token")
    with torch.no_grad():
        out.weight.copy_(net.proj.weight)
        out.bias.copy_(net.proj.bias)
    words = [text.split() for text in PROBE[:2]]
    with torch.inference_mode():
        emissions, _ = net.emissions(words)  # (B, W, L) scores per word
    want = emissions.float().softmax(-1).cpu().numpy()
    diff = 0.0
    for sentence, probs in zip(words, want):
        tok = encoder.tokenizer(sentence, is_split_into_words=True, truncation=True, max_length=encoder.max_length, return_tensors="pt")
        with torch.inference_mode():
            scores = model(**{k: v for k, v in tok.items() if k in encoder.input_keys}).logits[0].float().softmax(-1)  # (T, L)
        ids = tok.word_ids(0)
        first = [ids.index(w) for w in range(len(sentence))]
        diff = max(diff, float(np.abs(scores[first].numpy() - np.asarray(probs)[: len(first)]).max()))
    _check(diff, "tagger")
    _save(model, encoder.tokenizer, encoder.max_length, tmp)
    return HFExport(tmp, "tagger", type(model).__name__, list(tagger.labels), diff)


_EXPORTERS = {"classifier": _classifier, "qa": _reader, "tagger": _tagger}


def export_hf(source: str | Path, out: str | Path) -> HFExport:
    """Write the bertkit model directory ``source`` as a transformers task directory ``out`` (new or empty)."""
    source = Path(source).expanduser()
    task = bertkit_task(source)
    with new_directory(out) as tmp:
        result = _EXPORTERS[task](source, tmp)
    result.directory = Path(out)
    return result
