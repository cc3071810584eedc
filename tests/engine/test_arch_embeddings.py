"""Every architecture through the Embedder, torch and ONNX, against transformers' own forward.

One tiny random model per architecture (``tiny_arch``, tests/tiny_archs.py). Every pooling
is computed in one graph (their concatenation), so each (architecture, backend) is one
model load and, for ONNX, one export; the reference pools ``AutoModel``'s hidden states
here in numpy. ``pooler`` is part of it where the checkpoint has a trained pooler and is
refused elsewhere. sentence-transformers' own pipeline (Transformer + Pooling) is the
second reference for the poolings it has.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from tiny_archs import ARCHS

from bertkit.embeddings import Embedder

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = [
    "Who wrote War and Peace?",
    " ".join(["A gorgeous, witty film that stays with you and never lets go."] * 3),  # beyond ModernBERT's local window
    "hello",
    "",
]
WITH_POOLER = {"bert", "roberta", "albert"}  # AutoModel saves a (random, hence "trained") pooler for these
POOLINGS = "cls+mean+max+min+mean_sqrt_len+weighted_layer+attention"
TOL = 1e-4
# ONNX in the default suite for the architectures ORT's optimiser does not fuse; the fused ones
# export in 2-5 s each and run with -m slow (DistilBERT's ONNX classifier is in test_arch_tasks.py)
ONNX_FAST = {"deberta-v2", "modernbert"}


def arch_backends() -> list:
    cases = []
    for arch in ARCHS:
        cases.append(pytest.param(arch, "torch", id=f"{arch}-torch"))
        marks = () if arch in ONNX_FAST else (pytest.mark.slow,)
        cases.append(pytest.param(arch, "onnx", id=f"{arch}-onnx", marks=marks))
    return cases


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))  # a test's exports are its own


@functools.cache
def reference(path: str) -> dict[str, np.ndarray]:
    """transformers' AutoModel on TEXTS, pooled here: name -> (N, H) float32."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    enc = tok(TEXTS, padding=True, truncation=True, max_length=60, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True)
    mask = enc["attention_mask"].unsqueeze(-1).bool()  # (N, T, 1)
    last = out.last_hidden_state  # (N, T, H)
    count = mask.sum(1).float()  # (N, 1)
    layers = len(out.hidden_states) - 1
    mixed = torch.stack(out.hidden_states[max(1, layers // 2):]).mean(0)  # (N, T, H): untrained weighted_layer
    mean = (last * mask).sum(1) / count
    result = {
        "cls": last[:, 0],
        "mean": mean,
        "max": last.masked_fill(~mask, -torch.inf).max(1).values,
        "min": last.masked_fill(~mask, torch.inf).min(1).values,
        "mean_sqrt_len": (last * mask).sum(1) / count.sqrt(),
        "weighted_layer": (mixed * mask).sum(1) / count,
        "attention": mean,  # untrained: every token weighs the same
    }
    if getattr(out, "pooler_output", None) is not None:
        result["pooler"] = out.pooler_output
    return {k: v.float().numpy() for k, v in result.items()}


def spec_for(arch: str) -> str:
    return POOLINGS + ("+pooler" if arch in WITH_POOLER else "")


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
@pytest.mark.parametrize(("arch", "backend"), arch_backends())
def test_every_pooling_matches_transformers(tiny_arch, arch, backend):
    path = tiny_arch(arch)
    spec = spec_for(arch)
    emb = Embedder(path, pooling=spec, backend=backend, dtype="fp32", device="cpu", max_length=60)
    assert emb.runtime.backend == backend
    got = emb.embed(TEXTS)  # (N, sum of parts)
    ref = reference(str(path))
    want = np.concatenate([ref[name] for name in spec.split("+")], axis=1)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= TOL, f"{arch} {backend}: max |diff| {np.abs(got - want).max():.2g}"
    if backend == "onnx":
        check_export(arch, emb)


def check_export(arch: str, emb: Embedder) -> None:
    """ORT's fusion ran only where it applies, and the int8 quantiser finds the GELU-fed MatMuls
    (kept in fp32) in fused and unfused graphs alike."""
    import onnx

    from bertkit.engine.onnx_export import _after_gelu, cache_root, read_export_info
    from bertkit.engine.onnx_optimize import FUSABLE

    (directory,) = [d for d in cache_root().iterdir() if not d.name.startswith(".")]
    info = read_export_info(directory)
    if arch in FUSABLE:
        assert info.optimized and info.fusion.startswith("fused (") and "SkipLayerNormalization" in info.fusion
    else:
        assert not info.optimized and f"no patterns for model type {arch!r}" in info.fusion
    graph = onnx.load(str(directory / info.model_file))
    in_encoder = [name for name in _after_gelu(graph) if name.startswith("/model/")]  # not the attention pooling's scorer
    assert len(in_encoder) == emb.encoder.num_layers, in_encoder


@pytest.mark.parametrize("arch", sorted(set(ARCHS) - WITH_POOLER))
def test_pooler_refused_without_a_trained_pooler(tiny_arch, arch):
    with pytest.raises(Exception, match="pooling 'pooler' is not available .* no trained pooler") as info:
        Embedder(tiny_arch(arch), pooling="pooler", backend="torch", dtype="fp32", device="cpu")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("arch", ARCHS)
def test_layer_selections_match_transformers_hidden_states(tiny_arch, arch):
    """``--layers`` indexes transformers' hidden states (0 = the embedding output, after
    ALBERT's / ELECTRA's projection to the hidden size)."""
    from transformers import AutoModel, AutoTokenizer

    path = tiny_arch(arch)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    enc = tok(TEXTS[:3], padding=True, truncation=True, max_length=60, return_tensors="pt")
    with torch.no_grad():
        states = model(**enc, output_hidden_states=True).hidden_states
    mask = enc["attention_mask"].unsqueeze(-1).float()
    want = ((torch.stack([states[0], states[-1]]).mean(0) * mask).sum(1) / mask.sum(1)).numpy()
    got = Embedder(path, pooling="mean", layers="0,-1", backend="torch", dtype="fp32", device="cpu", max_length=60).embed(TEXTS[:3])
    assert np.abs(got - want).max() <= TOL


@pytest.mark.parametrize("arch", ARCHS)
def test_matches_sentence_transformers(tiny_arch, arch):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    path = tiny_arch(arch)
    first = Transformer(str(path), max_seq_length=60)
    st = SentenceTransformer(modules=[first, Pooling(first.get_word_embedding_dimension(), "mean")], device="cpu")
    modes = {"cls": "cls", "mean": "mean", "max": "max", "mean_sqrt_len": "mean_sqrt_len_tokens"}
    ours = Embedder(path, pooling="+".join(modes), backend="torch", dtype="fp32", device="cpu", max_length=60).embed(TEXTS)
    hidden = first.get_word_embedding_dimension()
    for i, mode in enumerate(modes.values()):
        st[1] = Pooling(hidden, mode)
        theirs = st.encode(TEXTS, batch_size=4, convert_to_numpy=True)
        mine = ours[:, i * hidden:(i + 1) * hidden]
        cosine = (mine * theirs).sum(1) / np.linalg.norm(mine, axis=1) / np.linalg.norm(theirs, axis=1)
        assert np.abs(mine - theirs).max() <= TOL and cosine.min() >= 0.9999, (arch, mode)
