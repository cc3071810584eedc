"""The one loader: which model a source names, and that model on its runtime.

Every predictor's ``load(source, backend, dtype, device)`` goes through here:

1. :func:`resolve_source` says what ``source`` is, before anything heavy is read:

   ====================  ===========================================================
   format                how it is recognised
   ====================  ===========================================================
   ``bertkit``           ``bertkit.json`` (or a bertkit 0.1 config) + ``manifest.json``
   ``hf-task``           ``config.json`` whose ``architectures`` names a transformers
                         task class (``...ForSequenceClassification`` -> classifier,
                         or reranker when it has one output; ``...ForQuestionAnswering``
                         -> qa, ``...ForTokenClassification`` -> tagger). A
                         sentence-transformers ``CrossEncoder`` directory is one too
                         (``config_sentence_transformers.json`` says ``"model_type":
                         "CrossEncoder"``; ``cross_encoder`` is then set): one label ->
                         reranker, more (an NLI cross-encoder) -> classifier of pairs
   ``sentence-transformers``  ``modules.json`` beside ``config.json`` (not a CrossEncoder)
   ``hf-encoder``        any other ``config.json`` directory (a bare encoder)
   ====================  ===========================================================

   ``None`` is the task's default (the packaged encoder, the shipped sentiment, QA or
   reranker model); a directory of another task is refused with one line saying what it is. What
   is none of these (missing, empty, incomplete) goes to the task's bertkit reader, which
   says what is wrong in its own line.

2. :func:`load_on_runtime` resolves ``auto`` (:mod:`bertkit.engine.runtime`; the bf16
   probe runs on the model it loads, which is then kept) and builds the task's model on
   the chosen device and torch dtype. The task then builds its backend on the engine
   (torch, or ONNX through :func:`bertkit.engine.tasks.task_backend`), whatever the format.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from bertkit.engine.runtime import Runtime, model_key, probe_encoder, resolve_runtime
from bertkit.errors import ModelLoadError, UsageError

__all__ = ["FORMATS", "TASKS", "ModelSource", "resolve_source", "load_on_runtime"]

FORMATS = ("bertkit", "hf-task", "sentence-transformers", "hf-encoder")
TASKS = ("embeddings", "classifier", "qa", "tagger", "reranker")
_LEGACY = {"bertkit_classifier.json": "classifier", "qa_config.json": "qa"}
_BERTKIT_TASKS = {"rerank": "reranker"}  # a bertkit.json "task" -> the loader's task name
_CE_CONFIG = "config_sentence_transformers.json"  # CrossEncoder.save writes it ("model_type": "CrossEncoder")
_HINTS = {
    "classifier": "train one with: bertkit classify train --base DIR",
    "qa": "train one with: bertkit qa train --model DIR",
    "tagger": "train one with: bertkit tag train --base DIR",
    "reranker": "give a sentence-transformers CrossEncoder or a bertkit reranker directory",
}
_NAMES = {"embeddings": "embedding model", "classifier": "classifier", "qa": "QA reader", "tagger": "tagger",
          "reranker": "reranker", "encoder": "bare encoder"}
M = TypeVar("M")


@dataclass(frozen=True)
class ModelSource:
    """What a model source is: its directory, its format and the task it holds."""

    path: Path
    format: Literal["bertkit", "hf-task", "sentence-transformers", "hf-encoder"]
    task: str  # the task the directory holds ("encoder" for a bare encoder)
    architecture: str | None = None  # hf-task: the transformers class (BertForQuestionAnswering, ...)
    default: bool = False  # the task's default model (source None)
    cross_encoder: bool = False  # hf-task: saved by sentence-transformers' CrossEncoder

    @property
    def name(self) -> str:
        """How messages name the model."""
        return f"the shipped {_NAMES.get(self.task, self.task)}" if self.default else str(self.path)


def _default(task: str) -> Path:
    from bertkit.modeldir import default_model_dir

    if task in ("embeddings", "encoder"):
        return default_model_dir("encoder")
    if task in ("classifier", "qa"):
        return default_model_dir(task)
    if task == "reranker":
        return default_model_dir("rerank")
    raise UsageError(f"no {_NAMES.get(task, task)} is shipped with bertkit; give --model DIR ({_HINTS.get(task, '')})")


def _bertkit_task(path: Path) -> str | None:
    """The task of a bertkit directory (its config's ``task``), or None when it is not one."""
    import json

    from bertkit.modeldir import CONFIG_FILE

    for name, task in _LEGACY.items():
        if (path / name).is_file():
            return task
    config = path / CONFIG_FILE
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError):
        return "unknown"  # the task's reader reports the broken file with its own line
    if not isinstance(data, dict):
        return "unknown"
    task = str(data.get("task", "unknown"))
    return _BERTKIT_TASKS.get(task, task)


def resolve_source(source: str | os.PathLike | None, task: str) -> ModelSource:
    """What ``source`` (None: ``task``'s default) is; refused when it is not a ``task`` model."""
    if source is None:
        path, default = _default(task), True
    else:
        path, default = Path(source).expanduser(), False
    found = _bertkit_task(path) if path.is_dir() else None
    if found is not None:
        src = ModelSource(path, "bertkit", found, None, default)
    elif path.is_dir() and (path / "config.json").is_file():
        src = _hf_source(path, default)
    else:  # missing, a file, an incomplete bertkit directory, an empty one: the task's reader says which, in one line
        src = ModelSource(path, "bertkit", task, None, default)
    _check_task(src, task)
    return src


def _hf_source(path: Path, default: bool) -> ModelSource:
    from bertkit.encoder.loading import read_config_json

    cross_encoder = _is_cross_encoder(path)
    if (path / "modules.json").is_file() and not cross_encoder:
        return ModelSource(path, "sentence-transformers", "embeddings", None, default)
    config = read_config_json(path)
    found = _hf_task(config)
    if found is not None:
        return ModelSource(path, "hf-task", found[0], found[1], default, cross_encoder)
    return ModelSource(path, "hf-encoder", "encoder", None, default)


def _is_cross_encoder(path: Path) -> bool:
    """Saved by sentence-transformers' ``CrossEncoder`` (v4+: its config says so)."""
    import json

    try:
        data = json.loads((path / _CE_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and data.get("model_type") == "CrossEncoder"


def _hf_task(config: dict) -> tuple[str, str] | None:
    """(task, class): a sequence classifier with one output is a reranker (a cross-encoder's score)."""
    from bertkit.encoder.taskheads import hf_task_of

    found = hf_task_of(config)
    if found is None or found[0] != "classifier":
        return found
    labels = config.get("id2label")
    count = len(labels) if isinstance(labels, dict) and labels else config.get("num_labels", 2)
    return ("reranker", found[1]) if count == 1 else found


def _check_task(src: ModelSource, task: str) -> None:
    if src.task == task or src.task == "unknown":
        return
    if task == "embeddings" and src.format != "bertkit":
        return  # any Hugging Face directory has an encoder to embed with
    if src.format in ("bertkit", "hf-task") and src.task == "classifier" and task == "reranker":
        return  # the reranker reads its own config (bertkit) or counts the outputs (transformers): it decides
    if src.task == "reranker" and task == "classifier" and src.format == "hf-task":
        what = "a sentence-transformers CrossEncoder" if src.cross_encoder else f"a Hugging Face {src.architecture} checkpoint"
        raise ModelLoadError(f"{src.path} is {what} with one output (a relevance score), not a classifier; "
                             "rank with it instead: bertkit rerank rank --model DIR (library: bertkit.Reranker.load)")
    what = f"a Hugging Face {src.architecture} checkpoint" if src.architecture else (
        f"a {_NAMES['encoder']} (no task head)" if src.task == "encoder" else f"a {_NAMES.get(src.task, src.task)} directory"
    )
    hint = _HINTS.get(task, "")
    raise ModelLoadError(f"{src.path} is {what}, not a {_NAMES.get(task, task)}" + (f"; {hint}" if hint and src.task == "encoder" else ""))


def load_on_runtime(
    source: ModelSource,
    backend: str,
    dtype: str,
    device: str,
    build: Callable[[str, str, Runtime | None], M],
    encoders: Callable[[M], list],
    *,
    resolve: Callable[..., Runtime] = resolve_runtime,
) -> tuple[Runtime, M]:
    """(Runtime, model): ``auto`` resolved, then ``build(device, torch_dtype, runtime)`` once.

    When ``auto`` needs the bf16 probe, the model is built in fp32 to run it
    (``build(device, "fp32", None)``; ``encoders(model)[0]`` is probed) and kept: bf16 is
    autocast over the same weights, so every encoder of the model just switches its dtype.
    Otherwise ``build`` gets the chosen runtime (an ONNX runtime may skip the torch weights). ``resolve`` is
    :func:`resolve_runtime` or a task's narrower version (the tagger has no int8).
    """
    probed: list = []

    def probe(dev: str):
        probed.append(build(dev, "fp32", None))
        return probe_encoder(encoders(probed[0])[0])

    runtime = resolve(backend, dtype, device, model=model_key(source.path), probe=probe)
    if probed:
        model = probed[0]
        for encoder in encoders(model):
            encoder.dtype = runtime.torch_dtype
        return runtime, model
    return runtime, build(runtime.device, runtime.torch_dtype, runtime)
