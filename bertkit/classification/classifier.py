"""The Classifier: a loaded model directory (single model or ensemble) ready to predict.

Internally it is a list of groups, each one encoder and the heads that read it: a
single model is one group with one head; a features-mode ensemble is one encoder with
eight heads (the encoder runs once per batch); a fine-tuned ensemble has one group per
member. Probabilities are the mean of every head's softmax (soft voting).

A transformers ``AutoModelForSequenceClassification`` directory loads as it is (one
group, the checkpoint's own head; labels from ``id2label``); with ``problem_type:
multi_label_classification`` each label gets a sigmoid and every label over 0.5 is
predicted (``Prediction.labels``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from bertkit.classification.config import ClassifierConfig
from bertkit.classification.engine import group_probabilities, head_probabilities
from bertkit.classification.explain import occlusion_weights
from bertkit.classification.prediction import MULTI_LABEL_THRESHOLD, Explanation, Prediction, make_prediction  # noqa: F401 (re-exported)
from bertkit.classification.modeldir import load_encoder, load_head, load_hf_classifier, read_members, read_verified
from bertkit.classification.model import PoolingHead, tokenize
from bertkit.encoder.encoder import Encoder
from bertkit.engine.backends import check_backend
from bertkit.engine.loader import load_on_runtime, resolve_source
from bertkit.engine.predictor import EvalReport
from bertkit.engine.runtime import Runtime
from bertkit.errors import BertkitError, ParameterError

__all__ = ["Classifier", "Prediction", "Explanation", "load_classifier"]


class Classifier:
    """Predicts with torch (fp32/bf16/fp16) or ONNX Runtime (fp32/int8), chosen at load time.

    >>> clf = Classifier.load()          # the shipped sentiment model, backend/dtype "auto"
    >>> clf.predict(["a gorgeous, witty film"], top_k=2)[0].label
    'positive'

    Thread-safe: one object can serve many threads at once.
    """

    TASK: ClassVar[str] = "classifier"

    def __init__(
        self,
        path: Path,
        config: ClassifierConfig,
        groups: list[tuple[Encoder, list[PoolingHead]]],
        member_names: list[str],
        *,
        backend: str = "torch",
        dtype: str = "fp32",
        runtime: Runtime | None = None,
        warm: tuple | None = None,
    ) -> None:
        check_backend(backend, dtype)
        self._warm = warm  # (request, asked) a warm start of the same load looks up (bertkit.classification.warm)
        device = str(groups[0][0].device) if groups else "cpu"
        self.runtime = runtime or Runtime(backend, dtype, device, "asked")
        self.path = path
        self.config = config
        self.labels = list(config.labels)
        self.groups = groups
        self.member_names = member_names  # one per head, in group order
        self.multi_label = any(getattr(h, "multi_label", False) for h in self.heads)
        self.from_transformers = config.training.get("source") == "transformers"  # single texts or pairs: its config cannot say
        self.backend_name = backend
        self.dtype = dtype
        self._exports: dict[int, object] = {}  # group index -> TaskExport (ONNX)
        self._exports_lock = threading.Lock()

    @classmethod
    def load(
        cls, path: str | os.PathLike | None = None, *, backend: str = "auto", dtype: str = "auto", device: str = "auto"
    ) -> "Classifier":
        """Load a classifier directory (``None``: the shipped sentiment model); see :func:`load_classifier`."""
        return load_classifier(path, backend=backend, dtype=dtype, device=device)

    def reference(self) -> "Classifier":
        """The same model on torch fp32 (shares the loaded weights): what int8 is gated against."""
        return Classifier(self.path, self.config, self.groups, self.member_names)

    def group_export(self, g: int):
        """Group ``g``'s ONNX export (built, gated and cached on first use)."""
        if g not in self._exports:
            from bertkit.classification.engine import build_group_export

            with self._exports_lock:
                if g not in self._exports:
                    encoder, heads = self.groups[g]
                    self._exports[g] = build_group_export(
                        encoder, heads, dtype=self.dtype, name=str(self.path), pairs=self.config.pairs, labels=self.labels
                    )
                    self._record_warm_start(self._exports[g])
        return self._exports[g]

    def _record_warm_start(self, export) -> None:
        """After the ONNX export is built: the warm entry a later load of the same request runs
        without torch (:mod:`bertkit.classification.warm`)."""
        if self._warm is None:
            return
        from bertkit.classification.warm import record_classifier

        try:
            record_classifier(*self._warm, self, export)
        except (OSError, ValueError, BertkitError):  # only an optimisation: the next load runs this full path again
            pass

    def _group_runner(self, g: int):
        """batch -> every head's probabilities of group ``g``. # -> (B, M, C)"""
        if self.backend_name == "onnx":
            return self.group_export(g).backend.run
        encoder, heads = self.groups[g]
        hidden = any(h.needs_hidden_states for h in heads)

        def run(batch) -> np.ndarray:
            with torch.inference_mode():
                return head_probabilities(heads, encoder.forward(batch, hidden_states=hidden)).cpu().numpy()

        return run

    @property
    def heads(self) -> list[PoolingHead]:
        return [h for _, heads in self.groups for h in heads]

    def _check(self, texts, pairs) -> None:
        if pairs is not None and len(pairs) != len(texts):
            raise ParameterError("pairs", f"{len(texts)} texts but {len(pairs)} second texts (pairs)")
        if self.from_transformers:  # a transformers checkpoint does not say whether it reads pairs
            return
        if pairs is None and self.config.pairs:
            raise ParameterError("pairs", "this model was trained on sentence pairs; give the second texts too (pairs)")
        if pairs is not None and not self.config.pairs:
            raise ParameterError("pairs", "this model was trained on single texts, without second texts; leave out pairs")

    def member_probabilities(
        self, texts: list[str], pairs: list[str] | None = None, *, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray:
        """Each head's probabilities. # -> (M, N, C) float32"""
        self._check(texts, pairs)
        out = np.zeros((len(self.heads), len(texts), len(self.labels)), dtype=np.float32)
        m = 0
        for g, (encoder, heads) in enumerate(self.groups):
            probs = group_probabilities(
                encoder, self._group_runner(g), texts, pairs, len(heads), len(self.labels), batch_size, progress
            )  # (N, M, C)
            out[m : m + len(heads)] = probs.transpose(1, 0, 2)
            m += len(heads)
        return out

    def predict_proba(self, texts: list[str], pairs: list[str] | None = None, **kw) -> np.ndarray:
        """Soft-voting probabilities (mean over heads). # -> (N, C)"""
        return self.member_probabilities(list(texts), pairs, **kw).mean(axis=0)

    def predict(self, texts: list[str], pairs: list[str] | None = None, *, top_k: int = 1, **kw) -> list[Prediction]:
        """Label, every label's probability and the ``top_k`` best per text (thread-safe)."""
        if top_k < 1:
            raise ParameterError("top_k", f"top_k must be >= 1, got {top_k}")
        probs = self.predict_proba(texts, pairs, **kw)
        return [self._prediction(p, top_k) for p in probs]

    def predict_batch(self, inputs: Sequence, *, batch_size: int | None = None, top_k: int = 1) -> list[Prediction]:
        """The protocol's batch method (:class:`bertkit.engine.predictor.Predictor`): texts, or
        ``(text, second_text)`` pairs for a pair model. # -> one Prediction per input"""
        inputs = list(inputs)
        pairs = None
        if inputs and all(isinstance(x, (tuple, list)) and len(x) == 2 for x in inputs):
            inputs, pairs = [x[0] for x in inputs], [x[1] for x in inputs]
        return self.predict(inputs, pairs, top_k=top_k, batch_size=batch_size or 32)

    def evaluate(self, data: str | os.PathLike, *, batch_size: int | None = None, **columns) -> EvalReport:
        """Accuracy, macro-F1, per-class scores and the confusion matrix on a labelled file
        (``text_column``, ``label_column``, ``pair_column`` as for ``bertkit classify evaluate``)."""
        from bertkit.classification.evaluate import evaluate_classifier

        report = evaluate_classifier(self, str(data), batch_size=batch_size or 32, **columns)
        return EvalReport(report, {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]})

    def _prediction(self, p: np.ndarray, top_k: int) -> Prediction:
        return make_prediction(p, self.labels, top_k, self.multi_label)

    def explain(self, text: str, pair: str | None = None) -> Explanation:
        """A weight per token, with the prediction: the (first) attention-pooling head's weights,
        or for models without one, occlusion (:mod:`bertkit.classification.explain`)."""
        pairs = [pair] if pair is not None else None
        self._check([text], pairs)
        for encoder, heads in self.groups:
            for head in heads:
                pooling = getattr(head, "pooling", None)  # a transformers task head has none: occlusion
                if pooling is not None and pooling.spec.split("+").count("attention"):
                    return self._explain_attention(encoder, head, text, pairs)
        return self._explain_occlusion(text, pairs)

    def _explain_attention(self, encoder: Encoder, head: PoolingHead, text: str, pairs: list[str] | None) -> Explanation:
        windows = tokenize(encoder, [text], pairs)
        _, batch = next(iter(encoder.batches(windows, 1)))
        with torch.inference_mode():
            _, weights = head(encoder.forward(batch, hidden_states=head.needs_hidden_states))
        real = int(batch["attention_mask"][0].sum())  # batches may be padded (bf16 pads to x16)
        tokens = encoder.tokenizer.convert_ids_to_tokens(batch["input_ids"][0, :real].tolist())
        probs = self.predict_proba([text], pairs)[0]
        return Explanation(tokens, weights[0, :real].float().cpu().tolist(), self._prediction(probs, len(self.labels)), "attention")

    def _explain_occlusion(self, text: str, pairs: list[str] | None) -> Explanation:
        encoder = self.groups[0][0]
        windows = tokenize(encoder, [text], pairs)
        ids = list(windows.features[0]["input_ids"])
        if any(list(tokenize(other, [text], pairs).features[0]["input_ids"]) != ids for other, _ in self.groups[1:]):
            raise ParameterError("explain", "explain by occlusion needs the ensemble's members to share one tokenizer")
        _, batch = next(iter(encoder.batches(windows, 1)))
        batch = {k: v[:, : len(ids)] for k, v in batch.items()}  # (1, T) without padding
        special = [bool(s) for s in encoder.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)]

        # torch even behind ONNX: the exported graphs assume contiguous masks (padding at the end only)
        torch_model = self if self.backend_name == "torch" else self.reference()

        def run(b: dict) -> np.ndarray:  # -> (B, C): the mean over every head, as predict_proba
            return np.concatenate([torch_model._group_runner(g)(b) for g in range(len(self.groups))], axis=1).mean(axis=1)

        probs, weights = occlusion_weights(run, batch, special)
        tokens = encoder.tokenizer.convert_ids_to_tokens(ids)
        return Explanation(tokens, weights.tolist(), self._prediction(probs, len(self.labels)), "occlusion")


def load_classifier(
    path: str | os.PathLike | None = None,
    *,
    backend: str = "auto",
    dtype: str = "auto",
    device: str = "auto",
    model: str | os.PathLike | None = None,
) -> Classifier:
    """Load a classifier directory (``None``: the shipped sentiment model), bertkit's own or a
    transformers ``AutoModelForSequenceClassification`` one (:mod:`bertkit.engine.loader`).

    ``backend``/``dtype`` "auto" pick the fastest runtime that keeps the outputs (see
    :mod:`bertkit.engine.runtime`); ``backend="onnx"`` runs on ONNX Runtime (``dtype``
    fp32 or int8; CPU), and int8 is refused for a model whose labels drift from fp32
    (see ``bertkit.engine.tasks``). ``model`` is the older name of ``path``.
    """
    source = resolve_source(path if path is not None else model, "classifier")
    directory = source.path
    if source.format == "hf-task":
        def build(dev: str, torch_dtype: str, _runtime=None):
            return load_hf_classifier(directory, device=dev, dtype=torch_dtype)
    else:
        verified = read_verified(directory)

        def build(dev: str, torch_dtype: str, _runtime=None):
            return (verified, *_load_groups(directory, verified, dev, torch_dtype))

    runtime, (config, groups, names) = load_on_runtime(
        source, backend, dtype, device, build, lambda built: [encoder for encoder, _ in built[1]]
    )
    from bertkit.classification.warm import classifier_request

    warm = (classifier_request(path if path is not None else model), (backend, dtype, device))
    return Classifier(directory, config, groups, names, backend=runtime.backend, dtype=runtime.dtype, runtime=runtime, warm=warm)


def _load_groups(path: Path, config: ClassifierConfig, device: str, torch_dtype: str):
    """(groups, member names): every encoder group of a single model or an ensemble."""
    if config.kind == "single":
        encoder = load_encoder(path, config.encoder, config, device=device, dtype=torch_dtype)
        return [(encoder, [load_head(path, config, encoder)])], [config.head.pooling]
    members = read_members(path, config)
    parent = None
    if any(mc.encoder.source == "parent" for _, _, mc in members):
        parent = load_encoder(path, config.encoder, config, device=device, dtype=torch_dtype)
    shared: list[PoolingHead] = []
    shared_names: list[str] = []
    groups: list[tuple[Encoder, list[PoolingHead]]] = []
    names: list[str] = []
    for name, mdir, mconfig in members:
        encoder = load_encoder(mdir, mconfig.encoder, mconfig, device=device, dtype=torch_dtype, parent=parent)
        head = load_head(mdir, mconfig, encoder)
        if mconfig.encoder.source == "parent":
            shared.append(head)
            shared_names.append(name)
        else:
            groups.append((encoder, [head]))
            names.append(name)
    if shared:
        groups.insert(0, (parent, shared))
    return groups, shared_names + names
