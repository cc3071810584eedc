"""A QA reader directory: a bertkit model directory (:mod:`bertkit.modeldir`) of task ``qa``.

::

    bertkit.json            QAConfig (task "qa"; unknown keys and wrong types refused)
    qa_weights.safetensors  the span head + every encoder tensor training changed
                            (all of them, or only the top ``train_layers`` layers)
    manifest.json           the sha256 of every file, the config included (written last)

The base encoder is named in the config (``default`` = the packaged all-MiniLM-L6-v2,
or a directory) and identified by the sha256 of its weights (``base_sha256``, filled in
by :func:`save_qa_model`): a base that differs is refused with one line naming both
hashes. So a model that trained only its top layers is small enough to ship in the
package. A directory without a manifest, with a file whose hash differs, or whose
tensors do not match the config is refused. Directories of the older layout
(``qa_config.json``) load through :mod:`bertkit.modeldir.legacy`.

A transformers ``AutoModelForQuestionAnswering`` directory (its ``qa_outputs`` layer)
loads as it is through :func:`load_hf_qa_model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Literal

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from bertkit.encoder.encoder import Encoder
from bertkit.encoder.fingerprint import check_base, weights_sha256
from bertkit.encoder.taskheads import TokenLogits
from bertkit.errors import ModelLoadError
from bertkit.io.atomic import atomic_path
from bertkit.modeldir import CONFIG_FILE, MANIFEST_FILE, default_model_dir, finish_writing, read_model_dir, start_writing
from bertkit.qa.model import QAModel

__all__ = ["QAConfig", "CONFIG_FILE", "WEIGHTS_FILE", "MANIFEST_FILE", "CheckpointSpanHead", "save_qa_model", "load_qa_model",
           "load_hf_qa_model", "load_weights_into", "read_config"]

WEIGHTS_FILE = "qa_weights.safetensors"
WEIGHT_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class QAConfig:
    TASK: ClassVar[str] = "qa"
    SCHEMA_VERSION: ClassVar[int] = 1

    base_model: str = "default"  # "default" (packaged all-MiniLM-L6-v2) or a model directory
    base_sha256: str | None = None  # the base's weights (bertkit.encoder.fingerprint.weights_sha256); None: bertkit <= 0.1
    max_length: int = 384
    doc_stride: int = 128
    max_question_length: int = 64
    max_answer_length: int = 30
    null_threshold: float = 0.0  # predict "no answer" when null score - best span score > this
    version_2: bool = False  # trained with unanswerable questions (can say "no answer")
    train_layers: int | None = None  # top encoder layers trained (None: the whole encoder)
    weights_dtype: Literal["fp32", "fp16", "bf16"] = "fp32"  # how qa_weights.safetensors stores the tensors
    training: dict = field(default_factory=dict)  # arguments and results of the training run (informational)

    def check(self, where: str) -> None:
        """Rules beyond the field types; raises ModelLoadError naming ``where``."""
        for name in ("max_length", "doc_stride", "max_question_length", "max_answer_length"):
            if getattr(self, name) < 1:
                raise ModelLoadError(f"{where}: field '{name}' must be a positive integer, got {getattr(self, name)}")
        if self.train_layers is not None and self.train_layers < 0:
            raise ModelLoadError(f"{where}: field 'train_layers' must be null or >= 0, got {self.train_layers}")


def _base_for_encoder(base_model: str) -> str | None:
    return None if base_model == "default" else base_model


def _base_dir(base_model: str) -> Path:
    return default_model_dir() if base_model == "default" else Path(base_model).expanduser()


def save_qa_model(model: QAModel, config: QAConfig, out_dir: str | os.PathLike) -> Path:
    """Write the trained tensors (in ``config.weights_dtype``), the config (naming the base
    encoder by its weights' sha256) and the manifest."""
    if config.base_sha256 is None:
        config = replace(config, base_sha256=weights_sha256(model.wrapped.path))
    out = start_writing(out_dir)  # incomplete until the manifest is back
    dtype = WEIGHT_DTYPES[config.weights_dtype]
    params = dict(model.named_parameters())
    tensors = {n: params[n].detach().to("cpu", dtype).contiguous() for n in model.trainable_names(config.train_layers)}
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "bertkit-qa"})
    return finish_writing(out, config)


def read_config(directory: str | os.PathLike | None) -> tuple[Path, QAConfig]:
    """Check the directory's manifest and hashes, and parse its config (None: the shipped reader)."""
    path = default_model_dir("qa") if directory is None else Path(directory).expanduser()
    config = read_model_dir(path, QAConfig, hint="train one with: bertkit qa train --train FILE --out DIR")
    if not (path / WEIGHTS_FILE).is_file():
        raise ModelLoadError(f"{path}: incomplete model directory, {WEIGHTS_FILE} is missing")
    return path, config


def load_qa_model(
    directory: str | os.PathLike | None = None, *, device: str = "auto", dtype: str = "fp32"
) -> tuple[QAModel, QAConfig]:
    """Load a QA model directory (None: the packaged default) onto ``device``."""
    path, config = read_config(directory)
    if config.base_sha256 is not None:  # directories of bertkit 0.1 do not name it
        name = "the installed all-MiniLM-L6-v2" if config.base_model == "default" else "the base encoder"
        check_base(path, config.base_sha256, _base_dir(config.base_model), name)
    encoder = Encoder(_base_for_encoder(config.base_model), device=device, dtype=dtype, max_length=config.max_length)
    model = QAModel(encoder)
    load_weights_into(model, path, config)
    model.eval()
    return model, config


def load_weights_into(model: QAModel, path: Path, config: QAConfig) -> None:
    """Copy a checked directory's tensors (head + trained layers) into ``model``."""
    try:
        tensors = load_file(str(path / WEIGHTS_FILE))
    except (SafetensorError, OSError) as exc:
        raise ModelLoadError(f"{path / WEIGHTS_FILE}: not a readable safetensors file ({exc})") from None
    expected = set(model.trainable_names(config.train_layers))
    missing = sorted(expected - set(tensors))
    extra = sorted(set(tensors) - expected)
    if missing or extra:
        detail = f"lacks {missing[0]}" if missing else f"has an unexpected tensor {extra[0]}"
        raise ModelLoadError(f"{path / WEIGHTS_FILE} {detail}; it does not match {CONFIG_FILE} and its base model")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in tensors.items():
            if tuple(tensor.shape) != tuple(params[name].shape):
                raise ModelLoadError(
                    f"{path / WEIGHTS_FILE}: {name} has shape {tuple(tensor.shape)}, the base model expects {tuple(params[name].shape)}"
                )
            params[name].copy_(tensor.to(params[name].dtype))


class CheckpointSpanHead(nn.Module):
    """A transformers QA checkpoint's own head (``qa_outputs``, after ModernBERT's prediction
    head) in the span head's shape. # (B, T, H) -> start (B, T), end (B, T)"""

    def __init__(self, logits: TokenLogits) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, hidden: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.logits(hidden)  # (B, T, 2)
        return logits[..., 0], logits[..., 1]


def load_hf_qa_model(directory: str | os.PathLike, *, device: str = "auto", dtype: str = "fp32") -> tuple[QAModel, QAConfig]:
    """A transformers ``AutoModelForQuestionAnswering`` directory as it is: its encoder through
    bertkit's one forward, its ``qa_outputs`` as the span head. It always gives its best span
    (``version_2`` off: a checkpoint does not say whether it learned "no answer")."""
    path = Path(directory).expanduser()
    encoder = Encoder(path, device=device, dtype=dtype, task="qa")
    task_model = encoder.task_model
    if int(task_model.config.num_labels) != 2:
        raise ModelLoadError(f"{path}/config.json: a question-answering head has 2 outputs (start, end), not {task_model.config.num_labels}")
    encoder.max_length = min(384, encoder.max_length)
    stride = min(128, encoder.max_length // 4)
    question = min(64, max(1, encoder.max_length - stride - 4) // 2)
    config = QAConfig(
        base_model=str(path), base_sha256=weights_sha256(path), max_length=encoder.max_length, doc_stride=stride,
        max_question_length=question, training={"source": "transformers", "architecture": type(task_model).__name__},
    )
    model = QAModel(encoder)
    model.head = CheckpointSpanHead(TokenLogits(task_model, str(path)))
    model.eval()
    return model, config
