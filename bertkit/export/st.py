"""An embedder as a sentence-transformers directory: ``SentenceTransformer(OUT)`` loads it
with the same vectors.

The directory is the encoder in Hugging Face format (config, safetensors, tokenizer) at
the root, ``sentence_bert_config.json`` (max length, lower-casing), ``modules.json`` and
one sub-directory per module after the Transformer: ``1_Pooling``, then each Dense
(config + ``model.safetensors``) and a final Normalize, as the embedder runs them. The
module files use the older, widely read spelling (``pooling_mode_mean_tokens``, types
``sentence_transformers.models.*``); a concatenation in an order the boolean keys cannot
say also gets ``pooling_mode`` (a list, read by sentence-transformers 3 and later).
Before anything is written the export is read back with bertkit's own reader and its
vectors compared with the embedder's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.torch import save_file

from bertkit.embeddings.embedder import Embedder
from bertkit.embeddings.st_format import LEGACY_POOLING_KEYS, MODULES_FILE, NORMALIZE, ST_TO_BERTKIT
from bertkit.encoder.quiet import quiet_loading
from bertkit.errors import UsageError
from bertkit.export.writing import edit_json, new_directory

__all__ = ["STExport", "export_sentence_transformers", "PROBE_TEXTS"]

PROBE_TEXTS = ["A gorgeous, witty film.", "", "Naïve café owners déjà vu — really?", "the cat sat on the mat " * 40]
_TO_ST = {b: s for s, b in ST_TO_BERTKIT.items()}


@dataclass
class STExport:
    directory: Path
    modules: list[str]  # e.g. ["Transformer", "Pooling (mean)", "Normalize"]
    dim: int
    max_abs_diff: float  # vectors read back vs the embedder's, on the probe texts

    def to_dict(self) -> dict:
        return {"directory": str(self.directory), "modules": self.modules, "dim": self.dim, "max_abs_diff": self.max_abs_diff}


def _st_modes(embedder: Embedder) -> list[str]:
    if not embedder.layers.last_only:
        raise UsageError(
            f"--format sentence-transformers: layers {embedder.layers.spec!r}; a sentence-transformers Transformer gives the "
            "last layer only, so export with the default layers (-1)"
        )
    lacking = [p for p in embedder.parts if p not in _TO_ST]
    if lacking:
        raise UsageError(
            f"--format sentence-transformers: pooling {lacking[0]!r} has no sentence-transformers Pooling mode "
            f"(it has {', '.join(_TO_ST)}); choose one of those with --pooling, or use --format onnx"
        )
    return [_TO_ST[p] for p in embedder.parts]


def _pooling_config(hidden: int, modes: list[str]) -> dict:
    config: dict = {"word_embedding_dimension": hidden}
    config.update({key: mode in modes for key, mode in LEGACY_POOLING_KEYS.items()})
    legacy_order = [m for m in LEGACY_POOLING_KEYS.values() if m in modes]
    if len(modes) > 1 and legacy_order != modes:  # the booleans concatenate in their own order
        config["pooling_mode"] = modes
    config["include_prompt"] = True
    return config


def _write(embedder: Embedder, modes: list[str], tmp: Path) -> list[str]:
    encoder = embedder.encoder
    with quiet_loading():  # no progress bar on stderr (nothing changed for the process)
        encoder.model.save_pretrained(str(tmp), safe_serialization=True)
        encoder.tokenizer.save_pretrained(str(tmp))
    edit_json(tmp / "tokenizer_config.json", model_max_length=encoder.max_length)
    (tmp / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": encoder.max_length, "do_lower_case": embedder.lowercase}, indent=2) + "\n")
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]
    names = ["Transformer", f"Pooling ({'+'.join(modes)})"]
    (tmp / "1_Pooling").mkdir()
    (tmp / "1_Pooling" / "config.json").write_text(json.dumps(_pooling_config(encoder.hidden_size, modes), indent=2) + "\n")
    modules.append({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})
    for step in embedder.steps:
        idx = len(modules)
        kind = "Normalize" if step == NORMALIZE else "Dense"
        where = tmp / f"{idx}_{kind}"
        where.mkdir()
        if step == NORMALIZE:
            (where / "config.json").write_text("{}\n")
        else:
            config = {"in_features": step.in_features, "out_features": step.out_features, "bias": step.bias is not None,
                      "activation_function": step.torch_path, "use_residual": step.use_residual}
            (where / "config.json").write_text(json.dumps(config, indent=2) + "\n")
            tensors = {"linear.weight": step.weight.contiguous()}
            if step.bias is not None:
                tensors["linear.bias"] = step.bias.contiguous()
            if step.residual is not None:
                tensors["residual.weight"] = step.residual.contiguous()
            save_file(tensors, str(where / "model.safetensors"))
        modules.append({"idx": idx, "name": str(idx), "path": where.name, "type": f"sentence_transformers.models.{kind}"})
        names.append(step.describe() if kind == "Dense" else kind)
    (tmp / MODULES_FILE).write_text(json.dumps(modules, indent=2) + "\n")
    (tmp / "config_sentence_transformers.json").write_text(json.dumps(
        {"model_type": "SentenceTransformer", "prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}, indent=2
    ) + "\n")
    return names


def export_sentence_transformers(embedder: Embedder, out: str | Path) -> STExport:
    """Write ``embedder`` (torch) as a sentence-transformers directory at ``out`` (new or empty)."""
    modes = _st_modes(embedder)
    want = embedder.embed(PROBE_TEXTS)
    with new_directory(out) as tmp:
        names = _write(embedder, modes, tmp)
        got = Embedder(tmp, backend="torch", dtype="fp32", device="cpu").embed(PROBE_TEXTS)
        diff = float(np.abs(got - want).max())
        if got.shape != want.shape or diff > 1e-4:  # pragma: no cover - a bug, not a user error
            raise RuntimeError(f"the sentence-transformers export does not reproduce the embedder (max difference {diff:.2e})")
    return STExport(Path(out), names, int(want.shape[1]), diff)
