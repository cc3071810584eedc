"""Save and load tagger directories, in the one model-directory format (:mod:`bertkit.modeldir`).

Layout::

    bertkit.json        TaggerConfig: the spec (labels, scheme, head, layers, ...), where the
                        encoder comes from, training arguments and dev metrics
    manifest.json       sha256 of every file (written last; checked on load)
    head.safetensors    every weight outside the encoder (layer mix, BiLSTM, linear, CRF)
    encoder/            the encoder + tokenizer (fine-tuned, or a copy of a non-default base)
    history.json, training_curves.png

A frozen packaged MiniLM is referenced (``encoder_source="default"``, its weights'
sha256 checked on load) rather than copied. Nothing is unpickled.

A transformers ``AutoModelForTokenClassification`` directory loads as it is
(:func:`load_hf_tagger`): a linear head on each word's first piece, which is exactly the
logits transformers gives that piece.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from safetensors.torch import load_file, save_file

from bertkit.encoder.encoder import Encoder
from bertkit.encoder.fingerprint import check_base, weights_sha256
from bertkit.encoder.taskheads import TokenLogits, hf_labels
from bertkit.errors import ModelLoadError
from bertkit.modeldir import default_model_dir, finish_writing, read_model_dir, start_writing
from bertkit.nn.contextual import ContextualEmbedding
from bertkit.tagging.model import TaggerModel, TaggerSpec
from bertkit.tagging.schemes import check_tag

__all__ = ["HEAD_FILE", "TaggerConfig", "save_tagger", "load_tagger_model", "load_hf_tagger"]

HEAD_FILE = "head.safetensors"
_ENCODER_PREFIX = "embedding.encoder."


@dataclass
class TaggerConfig:
    TASK: ClassVar[str] = "tagger"
    SCHEMA_VERSION: ClassVar[int] = 1

    spec: TaggerSpec
    encoder_source: str = "included"  # included | default
    base_sha256: str | None = None
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def check(self, where: str) -> None:
        if self.encoder_source not in ("included", "default"):
            raise ModelLoadError(f"{where}: encoder_source {self.encoder_source!r}; valid: included, default")
        self.spec.check(where)


def _default_sha() -> str:
    return weights_sha256(default_model_dir())


def _is_default(path: Path) -> bool:
    try:
        return Path(path).resolve() == default_model_dir().resolve()
    except ModelLoadError:
        return False


def save_tagger(directory: str | os.PathLike, model: TaggerModel, training: dict, metrics: dict, extra_files: dict[str, bytes] | None = None) -> Path:
    """Write the model directory (head weights, encoder when needed, config, manifest last)."""
    directory = start_writing(directory)
    head = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.startswith(_ENCODER_PREFIX)}
    save_file(head, str(directory / HEAD_FILE))
    runner = model.embedding.runner
    finetuned = model.spec.mode == "finetune"
    if not finetuned and _is_default(runner.path):
        config = TaggerConfig(model.spec, "default", _default_sha(), training, metrics)
    else:
        target = directory / "encoder"
        target.mkdir(parents=True, exist_ok=True)
        runner.model.save_pretrained(str(target), safe_serialization=True)
        runner.tokenizer.save_pretrained(str(target))
        config = TaggerConfig(model.spec, "included", None, training, metrics)
    for name, data in (extra_files or {}).items():
        (directory / name).write_bytes(data)
    return finish_writing(directory, config)


def load_tagger_model(directory: str | os.PathLike, *, device: str = "auto", dtype: str = "fp32") -> tuple[TaggerModel, TaggerConfig]:
    """Verify and load a tagger directory: the model in eval mode and its config."""
    directory = Path(directory)
    config = read_model_dir(directory, TaggerConfig, hint="train one with: bertkit tag train")
    spec = config.spec
    if config.encoder_source == "default":
        check_base(directory, config.base_sha256, default_model_dir(), "the installed all-MiniLM-L6-v2")
        encoder = Encoder(None, device=device, dtype=dtype, max_length=spec.max_length)
    else:
        encoder = Encoder(directory / "encoder", device=device, dtype=dtype, max_length=spec.max_length)
    embedding = ContextualEmbedding(encoder=encoder, layers=spec.layers, layer_combine=spec.layer_combine,
                                    subword=spec.subword, cache=False)
    model = TaggerModel(spec, embedding)
    try:
        model.load_state_dict(load_file(str(directory / HEAD_FILE)), strict=True)
    except (RuntimeError, OSError) as exc:
        raise ModelLoadError(f"{directory}/{HEAD_FILE} does not match the config ({str(exc).splitlines()[0][:160]})") from None
    model.to(encoder.device).eval()
    return model, config


def load_hf_tagger(directory: str | os.PathLike, *, device: str = "auto", dtype: str = "fp32") -> tuple[TaggerModel, TaggerConfig]:
    """A transformers ``AutoModelForTokenClassification`` directory as it is: tags from
    ``id2label`` (O / B- / I- / E- / S-), a linear head (the checkpoint's ``classifier``) on
    the last layer's state of each word's first piece."""
    path = Path(directory).expanduser()
    encoder = Encoder(path, device=device, dtype=dtype, task="tagger")
    task_model = encoder.task_model
    labels = hf_labels(task_model.config, str(path))
    bad = next((problem for problem in map(check_tag, labels) if problem), None)
    if bad or len(set(labels)) != len(labels):
        raise ModelLoadError(f"{path}/config.json: id2label {labels}: {bad or 'labels repeat'}; bertkit tags with BIO or BIOES labels")
    scheme = "BIOES" if any(t[:2] in ("E-", "S-") for t in labels) else "BIO"
    spec = TaggerSpec(labels=labels, scheme=scheme, mode="finetune", head="linear", layers="-1", subword="first",
                      dropout=0.0, max_length=encoder.max_length)
    embedding = ContextualEmbedding(encoder=encoder, layers="-1", subword="first", cache=False)
    model = TaggerModel(spec, embedding)
    model.proj = TokenLogits(task_model, str(path))  # the checkpoint's own head, shared
    model.to(encoder.device).eval()
    config = TaggerConfig(spec, "included", weights_sha256(path), {"source": "transformers", "architecture": type(task_model).__name__})
    return model, config
