"""The index's encoder: make or check the Embedder, and embed passages and queries the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bertkit.encoder.fingerprint import model_fingerprint
from bertkit.errors import ModelLoadError, ParameterError
from bertkit.retrieval.precision import truncate

__all__ = ["make_embedder", "model_path", "embedder_for", "pooling_name", "encoder_name", "describe", "embed_vectors"]


def make_embedder(embedder=None, model=None, pooling: str | None = None, **runtime):
    """The Embedder to build with: the one given (its pooling must agree) or a new one.

    A new one pools as ``pooling`` says, or (None) as the model directory's
    sentence-transformers pipeline says (mean for a plain Hugging Face directory).
    """
    from bertkit.embeddings.embedder import Embedder

    if embedder is not None:
        if model is not None:
            raise ParameterError("model", "give either embedder or model, not both")
        if pooling is not None and pooling != pooling_name(embedder):
            raise ParameterError("pooling", f"pooling {pooling!r} differs from the embedder's ({pooling_name(embedder)})")
        return embedder
    return Embedder(model, pooling=pooling, **runtime)


def model_path(embedder, model=None) -> str:
    """The model directory to record: the one given, else the embedder's encoder directory."""
    return str(Path(model).expanduser().resolve()) if model is not None else str(Path(embedder.encoder.path).resolve())


def pooling_name(embedder) -> str:
    """The embedder's pooling spec ("mean", "mean+max")."""
    return "+".join(embedder.parts)


def describe(name: str, fingerprint: str, pooling: str) -> str:
    return f"{name!r} (weights sha256 {fingerprint[:12]}, pooling {pooling})"


def embedder_for(config, where: Path, embedder=None, **runtime):
    """An Embedder that embeds queries as the index's passages were: refused if it is another."""
    from bertkit.embeddings.embedder import Embedder

    if embedder is None:
        path = Path(config.encoder_path)
        if not (path / "config.json").is_file():
            path = _default_if_same(config, where, path)
        pooling = config.pooling if config.pooling_given else None
        embedder = Embedder(path, pooling=pooling, max_length=config.max_length, **runtime)
    fingerprint = model_fingerprint(embedder.encoder)
    pooling = pooling_name(embedder)
    if fingerprint != config.encoder_fingerprint or pooling != config.pooling:
        raise ModelLoadError(
            f"{where} was built with encoder {describe(config.encoder_name, config.encoder_fingerprint, config.pooling)}, "
            f"not with {describe(encoder_name(embedder.encoder), fingerprint, pooling)} given; "
            "pass the encoder it was built with or rebuild the index"
        )
    if embedder.dim != config.model_dim:
        raise ModelLoadError(f"{where}: the encoder gives {embedder.dim}-dimensional vectors, the index holds {config.model_dim}")
    return embedder


def encoder_name(encoder) -> str:
    """The name messages use: the packaged default's model name, else the directory's name."""
    from bertkit.modeldir import DEFAULT_MODEL_NAME, default_model_dir

    try:
        if Path(encoder.path).resolve() == Path(default_model_dir("encoder")).resolve():
            return DEFAULT_MODEL_NAME
    except ModelLoadError:
        pass
    return Path(encoder.path).name


def _default_if_same(config, where: Path, path: Path) -> Path:
    """The packaged encoder when its weights are the recorded ones (the index moved machines)."""
    from types import SimpleNamespace

    from bertkit.modeldir import default_model_dir

    default = default_model_dir("encoder")
    if model_fingerprint(SimpleNamespace(path=Path(default))) != config.encoder_fingerprint:
        raise ModelLoadError(
            f"{where} was built with encoder {config.encoder_name!r}, which is no longer at {path}; pass that encoder (--model DIR)"
        )
    return default


def embed_vectors(embedder, texts: list[str], dim: int, normalize: bool) -> np.ndarray:
    """Embed, truncate to ``dim`` and (re)normalise. # -> (N, dim) float32"""
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    return truncate(embedder.embed(texts), dim, normalize)
