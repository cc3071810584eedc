"""The Classifier: a loaded model directory (single model or ensemble) ready to predict.

Internally it is a list of groups, each one encoder and the heads that read it: a
single model is one group with one head; a features-mode ensemble is one encoder with
eight heads (the encoder runs once per batch); a fine-tuned ensemble has one group per
member. Probabilities are the mean of every head's softmax (soft voting).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bertkit.classification.config import ClassifierConfig
from bertkit.classification.engine import group_probabilities, head_probabilities
from bertkit.classification.modeldir import load_encoder, load_head, read_verified
from bertkit.classification.model import PoolingHead, tokenize
from bertkit.encoder.encoder import Encoder
from bertkit.engine.backends import check_backend, torch_settings
from bertkit.errors import ModelLoadError, UsageError

__all__ = ["Classifier", "Prediction", "Explanation", "default_classifier_dir", "load_classifier"]


def default_classifier_dir() -> Path:
    """The shipped sentiment model (SST-2, LoRA on the packaged all-MiniLM-L6-v2)."""
    return Path(__file__).resolve().parents[1] / "models" / "sentiment"


@dataclass
class Prediction:
    label: str
    probabilities: dict[str, float]  # every label, in label-map order
    top: list[tuple[str, float]]  # the top-k labels, best first


@dataclass
class Explanation:
    tokens: list[str]
    weights: list[float]  # attention pooling weight per token (sums to 1)
    prediction: Prediction


class Classifier:
    """Predicts with torch (fp32/bf16/fp16) or ONNX Runtime (fp32/int8), chosen at load time."""

    def __init__(
        self,
        path: Path,
        config: ClassifierConfig,
        groups: list[tuple[Encoder, list[PoolingHead]]],
        member_names: list[str],
        *,
        backend: str = "torch",
        dtype: str = "fp32",
    ) -> None:
        check_backend(backend, dtype)
        self.path = path
        self.config = config
        self.labels = list(config.labels)
        self.groups = groups
        self.member_names = member_names  # one per head, in group order
        self.backend_name = backend
        self.dtype = dtype
        self._exports: dict[int, object] = {}  # group index -> TaskExport (ONNX)

    def reference(self) -> "Classifier":
        """The same model on torch fp32 (shares the loaded weights): what int8 is gated against."""
        return Classifier(self.path, self.config, self.groups, self.member_names)

    def group_export(self, g: int):
        """Group ``g``'s ONNX export (built, gated and cached on first use)."""
        if g not in self._exports:
            from bertkit.classification.engine import build_group_export

            encoder, heads = self.groups[g]
            self._exports[g] = build_group_export(
                encoder, heads, dtype=self.dtype, name=str(self.path), pairs=self.config.pairs, labels=self.labels
            )
        return self._exports[g]

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
        if pairs is None and self.config.pairs:
            raise UsageError("this model was trained on sentence pairs; give the second texts too (--pair-column)")
        if pairs is not None and not self.config.pairs:
            raise UsageError("this model was trained on single texts, not pairs; leave out --pair-column")
        if pairs is not None and len(pairs) != len(texts):
            raise UsageError(f"{len(texts)} texts but {len(pairs)} second texts")

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
        if top_k < 1:
            raise UsageError(f"--top-k must be >= 1, got {top_k}")
        probs = self.predict_proba(texts, pairs, **kw)
        return [self._prediction(p, top_k) for p in probs]

    def _prediction(self, p: np.ndarray, top_k: int) -> Prediction:
        order = np.argsort(-p, kind="stable")[: min(top_k, len(self.labels))]
        return Prediction(
            self.labels[int(order[0])],
            {label: float(v) for label, v in zip(self.labels, p)},
            [(self.labels[int(i)], float(p[i])) for i in order],
        )

    def explain(self, text: str, pair: str | None = None) -> Explanation:
        """Per-token weights of the (first) attention-pooling head, with the prediction."""
        for g, (encoder, heads) in enumerate(self.groups):
            for head in heads:
                if head.pooling.spec.split("+").count("attention"):
                    self._check([text], [pair] if pair is not None else None)
                    windows = tokenize(encoder, [text], [pair] if pair is not None else None)
                    _, batch = next(iter(encoder.batches(windows, 1)))
                    with torch.inference_mode():
                        _, weights = head(encoder.forward(batch, hidden_states=head.needs_hidden_states))
                    tokens = encoder.tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
                    probs = self.predict_proba([text], [pair] if pair is not None else None)[0]
                    return Explanation(tokens, weights[0].float().cpu().tolist(), self._prediction(probs, len(self.labels)))
        poolings = ", ".join(sorted({h.pooling.spec for h in self.heads}))
        raise UsageError(f"--explain needs a model with attention pooling; this model uses {poolings}")


def load_classifier(
    model: str | os.PathLike | None = None, *, device: str = "auto", dtype: str = "fp32", backend: str = "torch"
) -> Classifier:
    """Load a classifier directory (``None``: the shipped sentiment model).

    ``backend="onnx"`` runs it on ONNX Runtime (``dtype`` fp32 or int8; CPU); int8 is
    refused for a model whose labels drift from fp32 (see ``bertkit.engine.tasks``).
    """
    device, torch_dtype = torch_settings(backend, dtype, device)  # ONNX: an fp32 CPU model, exported
    path = Path(model).expanduser() if model is not None else default_classifier_dir()
    if model is None and not path.is_dir():
        raise ModelLoadError(f"the shipped sentiment model is missing at {path}; pass --model DIR")
    config = read_verified(path)
    if config.kind == "single":
        encoder = load_encoder(path, config.encoder, config, device=device, dtype=torch_dtype)
        return Classifier(path, config, [(encoder, [load_head(path, config, encoder)])], [config.head.pooling], backend=backend, dtype=dtype)
    members = [(m, read_verified(path / m)) for m in config.members]
    parent = None
    if any(mc.encoder.source == "parent" for _, mc in members):
        parent = load_encoder(path, config.encoder, config, device=device, dtype=torch_dtype)
    shared: list[PoolingHead] = []
    shared_names: list[str] = []
    groups: list[tuple[Encoder, list[PoolingHead]]] = []
    names: list[str] = []
    for member, mconfig in members:
        mdir = path / member
        if mconfig.kind != "single" or mconfig.labels != config.labels:
            raise ModelLoadError(f"{mdir}: ensemble members must be single models with the ensemble's labels")
        encoder = load_encoder(mdir, mconfig.encoder, mconfig, device=device, dtype=torch_dtype, parent=parent)
        head = load_head(mdir, mconfig, encoder)
        if mconfig.encoder.source == "parent":
            shared.append(head)
            shared_names.append(Path(member).name)
        else:
            groups.append((encoder, [head]))
            names.append(Path(member).name)
    if shared:
        groups.insert(0, (parent, shared))
    return Classifier(path, config, groups, shared_names + names, backend=backend, dtype=dtype)
