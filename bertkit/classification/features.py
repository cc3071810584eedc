"""Features mode: embed data once with the frozen encoder and cache it on disk.

What is cached depends on the pooling:

* parameter-free poolings (cls, pooler, mean, max, min, mean_sqrt_len): the pooled
  vector per text, ``(N, D)`` float32;
* ``attention``: the token states of the selected layer(s), ragged, float16
  (``total_tokens x H``);
* ``weighted_layer``: the token states of every mixed layer, float16
  (``total_tokens x K x H``); this is the large one.

A cache entry is keyed by the sha256 of: the encoder's weights and config, the
request (pooling / layers), the max length and the texts' content hash. Missing
entries of one call are computed together in a single pass over the data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from tqdm.auto import tqdm

from bertkit.classification.data import Examples
from bertkit.classification.model import PoolingHead, tokenize
from bertkit.embeddings.pooling import PoolingInput
from bertkit.encoder.encoder import Encoder
from bertkit.encoder.fingerprint import cache_key, cache_root, model_fingerprint
from bertkit.io.atomic import atomic_path

__all__ = ["FeatureRequest", "Features", "FeatureCache", "default_cache_dir", "request_for", "extract_features", "model_fingerprint"]

CACHE_VERSION = 2  # 2: pairs truncated longest-first


@dataclass(frozen=True)
class FeatureRequest:
    kind: str  # "vectors" | "tokens" | "stack"
    pooling: str = ""  # vectors: the parameter-free pooling
    layers: tuple[int, ...] = ()  # vectors / tokens: hidden-state indices averaged
    layer_start: int = 0  # stack: layers layer_start..L are stored


@dataclass
class Features:
    request: FeatureRequest
    vectors: np.ndarray | None = None  # (N, D) float32
    states: np.ndarray | None = None  # (total, H) or (total, K, H) float16
    offsets: np.ndarray | None = None  # (N + 1,) int64: rows of text i are offsets[i]:offsets[i+1]
    cache_hit: bool = False
    path: Path | None = None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.vectors, self.states, self.offsets) if a is not None)

    def batch(self, idx: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Vectors (B, D), or padded token states (B, T, [K,] H) float32 with mask (B, T)."""
        if self.vectors is not None:
            return torch.from_numpy(self.vectors[np.asarray(idx)]), None
        spans = [(int(self.offsets[i]), int(self.offsets[i + 1])) for i in idx]
        longest = max(b - a for a, b in spans)
        shape = (len(idx), longest) + self.states.shape[1:]
        out = np.zeros(shape, dtype=np.float32)
        mask = np.zeros((len(idx), longest), dtype=np.int64)
        for row, (a, b) in enumerate(spans):
            out[row, : b - a] = self.states[a:b]
            mask[row, : b - a] = 1
        return torch.from_numpy(out), torch.from_numpy(mask)


def request_for(head: PoolingHead) -> FeatureRequest:
    """What must be cached to train ``head`` without the encoder."""
    if not head.learned_pooling:
        return FeatureRequest("vectors", pooling=head.pooling.spec, layers=head.layers.indices)
    if head.pooling.needs_hidden_states:
        return FeatureRequest("stack", layer_start=head.pooling.layer_start)
    return FeatureRequest("tokens", layers=head.layers.indices)


def head_inputs(head: PoolingHead, request: FeatureRequest, data: torch.Tensor, mask: torch.Tensor | None) -> PoolingInput | torch.Tensor:
    """Rebuild what the head reads from a cached batch (vectors pass through)."""
    if request.kind == "vectors":
        return data
    if request.kind == "tokens":
        return PoolingInput(data, mask)
    layers = tuple(data[:, :, k] for k in range(data.shape[2]))  # K x (B, T, H)
    hidden = (None,) * request.layer_start + layers  # positions below layer_start are never read
    return PoolingInput(layers[-1], mask, hidden)


def default_cache_dir() -> Path:
    """``$BERTKIT_CACHE/features`` or ``~/.cache/bertkit/features``."""
    return cache_root() / "features"


class FeatureCache:
    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def key(self, encoder: Encoder, examples: Examples, request: FeatureRequest) -> str:
        parts = {
            "version": CACHE_VERSION,
            "model": model_fingerprint(encoder),
            "max_length": encoder.max_length,
            "data": examples.content_hash(),
            "request": asdict(request),
        }
        return cache_key(parts)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.safetensors"

    def load(self, key: str, request: FeatureRequest) -> Features | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            arrays = load_file(str(path))
        except Exception:  # noqa: BLE001 - a damaged entry is recomputed
            return None
        return Features(request, arrays.get("vectors"), arrays.get("states"), arrays.get("offsets"), True, path)

    def save(self, key: str, features: Features) -> Path:
        arrays = {k: v for k, v in (("vectors", features.vectors), ("states", features.states), ("offsets", features.offsets)) if v is not None}
        path = self.path(key)
        with atomic_path(path) as tmp:
            save_file(arrays, str(tmp))
        return path


def extract_features(
    encoder: Encoder,
    examples: Examples,
    requests: Sequence[FeatureRequest],
    cache: FeatureCache | None,
    *,
    batch_size: int = 64,
    progress: bool = False,
    log: Callable[[str], None] = lambda m: None,
) -> list[Features]:
    """Features for each request: from the cache when present, else one encoder pass for all missing."""
    results: list[Features | None] = [None] * len(requests)
    keys = [cache.key(encoder, examples, r) if cache else None for r in requests]
    for i, request in enumerate(requests):
        if cache is not None:
            results[i] = cache.load(keys[i], request)
            if results[i] is not None:
                log(f"feature cache hit: {examples.source} [{_describe(request)}] from {results[i].path}")
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        log(f"feature cache miss: embedding {len(examples)} texts of {examples.source} for "
            f"{', '.join(_describe(requests[i]) for i in missing)}")
        computed = _compute(encoder, examples, [requests[i] for i in missing], batch_size, progress)
        for i, features in zip(missing, computed):
            if cache is not None:
                features.path = cache.save(keys[i], features)
            results[i] = features
    return results  # type: ignore[return-value]


def _describe(request: FeatureRequest) -> str:
    if request.kind == "vectors":
        return f"{request.pooling} vectors"
    if request.kind == "tokens":
        return "token states"
    return f"token states of layers {request.layer_start}..L"


def _compute(encoder: Encoder, examples: Examples, requests: Sequence[FeatureRequest], batch_size: int, progress: bool) -> list[Features]:
    from bertkit.embeddings.engine import EmbeddingHead
    from bertkit.embeddings.layers import LayerSelection
    from bertkit.embeddings.pooling import build_pooling

    windows = tokenize(encoder, examples.texts, examples.pairs)
    n = windows.num_texts
    num_layers = encoder.num_layers
    poolers = {
        r: EmbeddingHead(LayerSelection(str(r.layers), r.layers, num_layers), build_pooling(r.pooling, encoder.hidden_size, num_layers))
        for r in requests if r.kind == "vectors"
    }
    need_hidden = any(r.kind == "stack" or r.layers != (num_layers,) for r in requests)
    vectors = {r: None for r in requests if r.kind == "vectors"}
    rows: dict[FeatureRequest, list] = {r: [None] * n for r in requests if r.kind != "vectors"}
    bar = tqdm(total=n, desc=f"embedding {examples.source}", unit="text", disable=not progress, leave=False)
    encoder.model.eval()
    with torch.inference_mode():
        for idx, batch in encoder.batches(windows, batch_size):
            out = encoder.forward(batch, hidden_states=need_hidden)
            lengths = batch["attention_mask"].sum(dim=1).tolist()
            text_idx = [windows.sample[w] for w in idx]
            for r in requests:
                if r.kind == "vectors":
                    vec = poolers[r](out)  # the embedding graph's head: (B, D) float32
                    vec = vec.float().cpu().numpy()
                    if vectors[r] is None:
                        vectors[r] = np.zeros((n, vec.shape[1]), dtype=np.float32)
                    vectors[r][text_idx] = vec
                    continue
                if r.kind == "tokens":
                    states = LayerSelection(str(r.layers), r.layers, num_layers).select(out.hidden_states) if out.hidden_states is not None else out.last_hidden_state  # (B, T, H)
                else:
                    states = torch.stack(out.hidden_states[r.layer_start :], dim=2)  # (B, T, K, H)
                states = states.to(torch.float16).cpu().numpy()
                for row, t in enumerate(text_idx):
                    rows[r][t] = states[row, : lengths[row]]
            bar.update(len(idx))
    bar.close()
    results = []
    for r in requests:
        if r.kind == "vectors":
            results.append(Features(r, vectors=vectors[r]))
        else:
            offsets = np.zeros(n + 1, dtype=np.int64)
            offsets[1:] = np.cumsum([len(x) for x in rows[r]])
            results.append(Features(r, states=np.concatenate(rows[r], axis=0), offsets=offsets))
    return results
