"""sentence-transformers directories, read as they are (``modules.json`` and its modules).

A sentence-transformers directory names a pipeline in ``modules.json``: a Transformer
(the Hugging Face encoder, at the root or in a sub-directory, with
``sentence_bert_config.json``: ``max_seq_length``, ``do_lower_case``), a Pooling
(``1_Pooling/config.json``), optional Dense layers (``2_Dense/config.json`` +
``model.safetensors``) and an optional Normalize. :func:`read_st_pipeline` turns it into
an :class:`STPipeline` that the Embedder runs: the pooling as a bertkit spec, then the
steps after it (Dense, Normalize) on the pooled vectors, so both backends give
``SentenceTransformer(DIR).encode``'s vectors. Only JSON and safetensors are read (never
pickle, never a class named by the directory); what bertkit cannot run exactly is
refused with one line naming the module and what to do.

The tables here (:data:`ST_TO_BERTKIT`, :data:`ACTIVATIONS`) are also what
``bertkit export --format sentence-transformers`` writes back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bertkit.errors import ModelLoadError
from bertkit.modeldir import check_relative

__all__ = [
    "MODULES_FILE", "ST_TO_BERTKIT", "LEGACY_POOLING_KEYS", "ACTIVATIONS", "NORMALIZE", "DenseStep", "STPipeline",
    "apply_steps", "describe_steps", "is_st_dir", "read_st_pipeline", "tokenizer_lowercases",
]

MODULES_FILE = "modules.json"
# sentence-transformers pooling mode -> bertkit pooling (the modes bertkit has)
ST_TO_BERTKIT = {"cls": "cls", "max": "max", "mean": "mean", "mean_sqrt_len_tokens": "mean_sqrt_len"}
# the older boolean keys, in the order sentence-transformers concatenates them
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max", "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
# activation class name (torch.nn) -> module; a Dense naming anything else is refused
ACTIVATIONS = {"Identity": nn.Identity, "Tanh": nn.Tanh, "ReLU": nn.ReLU, "GELU": nn.GELU, "Sigmoid": nn.Sigmoid, "SiLU": nn.SiLU}
_TORCH_PATHS = {"Identity": "torch.nn.modules.linear.Identity", **{n: f"torch.nn.modules.activation.{n}" for n in ACTIVATIONS if n != "Identity"}}
_KINDS = ("Transformer", "Pooling", "Dense", "Normalize")
_PICKLES = ("pytorch_model.bin", "model.pt", "model.pth")


@dataclass(frozen=True, eq=False)
class DenseStep:
    """``activation(x W^T + b)`` (+ the input, or its projection, with ``use_residual``). # (N, in) -> (N, out)"""

    weight: torch.Tensor  # (out, in)
    bias: torch.Tensor | None  # (out,)
    activation: str  # a key of ACTIVATIONS
    residual: torch.Tensor | None = None  # (out, in) projection; None with use_residual and in == out: identity
    use_residual: bool = False

    @property
    def in_features(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weight.shape[0])

    @property
    def torch_path(self) -> str:
        return _TORCH_PATHS[self.activation]

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))  # (N, in)
        with torch.inference_mode():
            out = ACTIVATIONS[self.activation]()(nn.functional.linear(x, self.weight, self.bias))  # (N, out)
            if self.use_residual:
                out = out + (x if self.residual is None else nn.functional.linear(x, self.residual))
        return out.numpy()

    def describe(self) -> str:
        return f"Dense {self.in_features}->{self.out_features} {self.activation}" + (" +residual" if self.use_residual else "")


NORMALIZE = "normalize"  # the Normalize step


@dataclass(frozen=True)
class STPipeline:
    """What a sentence-transformers directory asks for, in bertkit's terms."""

    directory: Path  # the sentence-transformers directory (modules.json)
    encoder_dir: Path  # the Transformer module's Hugging Face directory
    pooling: str | None  # bertkit pooling spec; None when the Pooling cannot be run (``problem`` says why)
    steps: tuple = ()  # DenseStep | NORMALIZE, in order, applied to the pooled vectors
    do_lower_case: bool = False
    problem: str | None = None  # one line: why this pipeline cannot run as it is
    modes: tuple[str, ...] = field(default=())  # the Pooling's modes as sentence-transformers names them

    @property
    def normalizes(self) -> bool:
        return bool(self.steps) and self.steps[-1] == NORMALIZE

    def require(self) -> "STPipeline":
        """This pipeline, or the one-line ModelLoadError saying why it cannot run."""
        if self.problem:
            raise ModelLoadError(self.problem)
        return self

    def with_normalize(self, normalize: bool | None) -> "STPipeline":
        """``None`` keeps the directory's choice; True/False adds or removes the final Normalize."""
        if normalize is None:
            return self
        steps = tuple(s for s in self.steps if s != NORMALIZE)
        return replace(self, steps=steps + ((NORMALIZE,) if normalize else ()))

    def describe(self) -> str:
        return describe_steps(self.pooling, self.steps)


def apply_steps(steps: tuple, vectors: np.ndarray) -> np.ndarray:
    """The steps after pooling, in order (a new array). # (N, D) -> (N, D')"""
    for step in steps:
        if step == NORMALIZE:
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        else:
            vectors = step.apply(vectors)
    return vectors


def describe_steps(pooling: str | None, steps: tuple) -> str:
    """``pooling cls, Dense 32->16 Tanh, Normalize``"""
    return ", ".join([f"pooling {pooling}"] + ["Normalize" if s == NORMALIZE else s.describe() for s in steps])


def is_st_dir(path: Path) -> bool:
    return (Path(path) / MODULES_FILE).is_file()


def _json(file: Path) -> object:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{file} is missing; the sentence-transformers directory is incomplete") from None
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise ModelLoadError(f"{file}: not valid JSON ({str(exc).splitlines()[0][:120]})") from None


def _object(file: Path) -> dict:
    data = _json(file)
    if not isinstance(data, dict):
        raise ModelLoadError(f"{file}: expected a JSON object")
    return data


def _modules(directory: Path) -> list[tuple[str, Path, str]]:
    """(kind, module directory, type) per entry of modules.json, validated."""
    file = directory / MODULES_FILE
    entries = _json(file)
    if not isinstance(entries, list) or not entries:
        raise ModelLoadError(f"{file}: expected a non-empty JSON list of modules")
    out = []
    for i, entry in enumerate(entries):
        kind_path = entry.get("type") if isinstance(entry, dict) else None
        rel = entry.get("path", "") if isinstance(entry, dict) else None
        if not isinstance(kind_path, str) or not isinstance(rel, str):
            raise ModelLoadError(f"{file}: module {i} needs string fields 'type' and 'path'")
        kind = kind_path.rsplit(".", 1)[-1]
        if not kind_path.startswith("sentence_transformers.") or kind not in _KINDS:
            raise ModelLoadError(
                f"{file}: module {i} is {kind_path}, which bertkit cannot run (it runs {', '.join(_KINDS)}); "
                "use sentence-transformers itself for this model"
            )
        where = directory / check_relative(rel, str(file), "module path") if rel else directory
        out.append((kind, where, kind_path))
    return out


def read_st_pipeline(path: str | Path, *, strict: bool = True) -> STPipeline:
    """The pipeline of the sentence-transformers directory ``path`` (one with modules.json).

    ``strict=False`` reads only what loading the encoder needs (its directory, lower-casing):
    a Pooling or Dense bertkit cannot run is then recorded in ``problem`` rather than raised,
    for callers that pool their own way (an explicit ``pooling``).
    """
    directory = Path(path)
    modules = _modules(directory)
    if modules[0][0] != "Transformer":
        raise ModelLoadError(f"{directory / MODULES_FILE}: the first module must be a Transformer, got {modules[0][2]}")
    encoder_dir = modules[0][1]
    lower = _transformer_settings(encoder_dir)
    try:
        pooling, modes, steps = _after_transformer(directory, modules[1:])
        return STPipeline(directory, encoder_dir, pooling, steps, lower, modes=modes)
    except ModelLoadError as exc:
        if strict:
            raise
        return STPipeline(directory, encoder_dir, None, (), lower, problem=str(exc))


def _transformer_settings(encoder_dir: Path) -> bool:
    """do_lower_case of the Transformer module (its sentence_bert_config.json, when present)."""
    file = encoder_dir / "sentence_bert_config.json"
    if not file.is_file():
        return False
    config = _object(file)
    task = config.get("transformer_task", "feature-extraction")
    if task != "feature-extraction" or config.get("module_output_name", "token_embeddings") != "token_embeddings":
        raise ModelLoadError(f"{file}: a Transformer for {task!r}; bertkit embeds with feature-extraction token embeddings only")
    lower = config.get("do_lower_case", False)
    if not isinstance(lower, bool):
        raise ModelLoadError(f"{file}: field 'do_lower_case' must be true or false, got {lower!r}")
    return lower


def _after_transformer(directory: Path, modules: list) -> tuple[str, tuple[str, ...], tuple]:
    _check_prompts(directory)
    if not modules or modules[0][0] != "Pooling":
        raise ModelLoadError(f"{directory / MODULES_FILE}: the module after the Transformer must be a Pooling (bertkit embeds pooled sentence vectors)")
    modes = _pooling_modes(modules[0][1] / "config.json")
    steps: list = []
    for kind, where, kind_path in modules[1:]:
        if kind == "Dense":
            steps.append(_dense(where))
        elif kind == "Normalize":
            _check_io_names(where / "config.json", optional=True)
            steps.append(NORMALIZE)
        else:
            raise ModelLoadError(f"{directory / MODULES_FILE}: {kind_path} after the Pooling; bertkit runs only Dense and Normalize there")
    return "+".join(ST_TO_BERTKIT[m] for m in modes), modes, tuple(steps)


def _check_prompts(directory: Path) -> None:
    file = directory / "config_sentence_transformers.json"
    if not file.is_file():
        return
    config = _object(file)
    name = config.get("default_prompt_name")
    prompts = config.get("prompts") or {}
    if name and isinstance(prompts, dict) and prompts.get(name):
        raise ModelLoadError(
            f"{file}: default_prompt_name {name!r} prepends a prompt to every text, which bertkit does not do; "
            "prepend it to your texts and pass --pooling, or use sentence-transformers"
        )


def _pooling_modes(file: Path) -> tuple[str, ...]:
    config = _object(file)
    mode = config.get("pooling_mode")
    if mode is None:  # the older boolean keys; none set means mean, as sentence-transformers reads it
        modes = tuple(m for key, m in LEGACY_POOLING_KEYS.items() if config.get(key) is True) or ("mean",)
    else:
        modes = (mode,) if isinstance(mode, str) else tuple(mode) if isinstance(mode, list) else ()
        if not modes or not all(isinstance(m, str) for m in modes):
            raise ModelLoadError(f"{file}: field 'pooling_mode' must be a mode name or a list of them, got {mode!r}")
    lacking = [m for m in modes if m not in ST_TO_BERTKIT]
    if lacking:
        raise ModelLoadError(
            f"{file}: pooling mode {lacking[0]!r} has no bertkit equivalent (bertkit runs {', '.join(ST_TO_BERTKIT)}); "
            "choose a pooling with --pooling, or use sentence-transformers for this model"
        )
    if len(set(modes)) != len(modes):
        raise ModelLoadError(f"{file}: pooling_mode {list(modes)} repeats a mode")
    return modes


def _check_io_names(file: Path, *, optional: bool = False) -> dict:
    config = _object(file) if file.is_file() or not optional else {}
    for key in ("module_input_name", "module_output_name"):
        if config.get(key, "sentence_embedding") != "sentence_embedding":
            raise ModelLoadError(f"{file}: {key} {config[key]!r}; bertkit runs this module on the sentence embedding only")
    return config


def _dense(where: Path) -> DenseStep:
    file = where / "config.json"
    config = _check_io_names(file)
    n_in, n_out, bias = config.get("in_features"), config.get("out_features"), config.get("bias", True)
    if not (isinstance(n_in, int) and isinstance(n_out, int) and n_in > 0 and n_out > 0 and isinstance(bias, bool)):
        raise ModelLoadError(f"{file}: needs positive integers in_features, out_features and a boolean bias")
    name = str(config.get("activation_function", "torch.nn.modules.activation.Tanh"))
    short = name.rsplit(".", 1)[-1]
    if not name.startswith("torch.") or short not in ACTIVATIONS:
        raise ModelLoadError(f"{file}: activation_function {name!r} is not one bertkit runs ({', '.join(ACTIVATIONS)} of torch.nn)")
    residual = bool(config.get("use_residual", False))
    tensors = _dense_weights(where)
    weight = _tensor(tensors, "linear.weight", (n_out, n_in), where)
    b = _tensor(tensors, "linear.bias", (n_out,), where) if bias else None
    projection = _tensor(tensors, "residual.weight", (n_out, n_in), where) if residual and n_in != n_out else None
    return DenseStep(weight, b, short, projection, residual)


def _dense_weights(where: Path) -> dict:
    from safetensors.torch import load_file

    file = where / "model.safetensors"
    if not file.is_file():
        pickled = [n for n in _PICKLES if (where / n).is_file()]
        if pickled:
            raise ModelLoadError(
                f"{where}: the Dense weights are only in {pickled[0]} (pickle); bertkit loads safetensors only. Convert once: "
                f"python -c \"from sentence_transformers import SentenceTransformer as S; S('{where.parent}').save('{where.parent}', safe_serialization=True)\""
            )
        raise ModelLoadError(f"{where}: no model.safetensors (the Dense layer's weights)")
    try:
        return load_file(str(file))
    except Exception as exc:  # noqa: BLE001 - any failure is the user's file
        raise ModelLoadError(f"{file}: not a readable safetensors file ({str(exc).splitlines()[0][:120]})") from None


def _tensor(tensors: dict, key: str, shape: tuple, where: Path) -> torch.Tensor:
    t = tensors.get(key)
    if t is None or tuple(t.shape) != shape:
        got = "missing" if t is None else f"shape {tuple(t.shape)}"
        raise ModelLoadError(f"{where}/model.safetensors: {key} is {got}, config.json says {shape}")
    return t.float()


def tokenizer_lowercases(tokenizer) -> bool:
    """Whether a fast tokenizer's normalizer already lower-cases (then do_lower_case changes nothing)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    normalizer = json.loads(backend.to_str()).get("normalizer")

    def lowers(node) -> bool:
        if isinstance(node, dict):
            if node.get("type") == "Lowercase" or (node.get("type") == "BertNormalizer" and node.get("lowercase")):
                return True
            return any(lowers(v) for v in node.values())
        if isinstance(node, list):
            return any(lowers(v) for v in node)
        return False

    return lowers(normalizer)
