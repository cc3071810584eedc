"""The classifier directory's config (``bertkit.json``, task ``classifier``): typed dataclasses.

Read and written by the one model-directory reader (:mod:`bertkit.modeldir`), which
refuses unknown keys and checks every field's type; :meth:`ClassifierConfig.check`
adds the rules types cannot say (a single model has a head, an ensemble members that
are relative paths inside its directory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from bertkit.classification.model import HeadSpec
from bertkit.errors import ModelLoadError
from bertkit.modeldir import CONFIG_FILE, check_relative, read_model_dir

__all__ = ["CONFIG_FILE", "EncoderSpec", "ClassifierConfig", "read_config"]

ENCODER_SOURCES = ("included", "default", "parent", "members")


@dataclass
class EncoderSpec:
    """Where the encoder comes from.

    ``included``: ``encoder/`` in this directory (Hugging Face format) · ``default``: the
    packaged all-MiniLM-L6-v2, whose weights must hash to ``base_sha256`` · ``parent``:
    the enclosing ensemble's encoder · ``members``: an ensemble whose members each carry
    their own encoder. ``adapter="lora"``: LoRA adapters in ``adapter/``
    (peft format) are applied on top; ``adapter="delta"``: fine-tuned weights stored as
    deltas against the packaged base (``adapter/delta.safetensors``) are added to it.
    """

    source: Literal["included", "default", "parent", "members"] = "included"
    base_sha256: str | None = None
    adapter: Literal["lora", "delta"] | None = None


@dataclass
class ClassifierConfig:
    TASK: ClassVar[str] = "classifier"
    SCHEMA_VERSION: ClassVar[int] = 1

    labels: list[str]
    max_length: int
    kind: Literal["single", "ensemble"] = "single"
    mode: Literal["finetune", "features"] = "finetune"
    pairs: bool = False  # trained on sentence pairs
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    head: HeadSpec | None = None  # single models
    members: list[str] = field(default_factory=list)  # ensembles: member subdirectories (relative, inside)
    training: dict = field(default_factory=dict)  # the training arguments (informational)
    metrics: dict = field(default_factory=dict)

    def check(self, where: str) -> None:
        """Rules beyond the field types; raises ModelLoadError naming ``where``."""
        if self.kind == "single" and self.head is None:
            raise ModelLoadError(f"{where}: a single model needs a 'head'")
        if self.kind == "ensemble" and not self.members:
            raise ModelLoadError(f"{where}: an ensemble needs 'members'")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ModelLoadError(f"{where}: 'labels' needs at least two distinct labels, got {self.labels}")
        if self.max_length < 3:
            raise ModelLoadError(f"{where}: field 'max_length' must be at least 3, got {self.max_length}")
        for member in self.members:
            check_relative(member, where, "member")


def read_config(directory: Path) -> ClassifierConfig:
    """The verified config of a classifier directory (manifest checked, types checked)."""
    return read_model_dir(directory, ClassifierConfig, hint="train one with: bertkit classify train")
