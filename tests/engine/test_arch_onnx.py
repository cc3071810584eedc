"""The ONNX path off BERT: fusion only where ORT's optimiser applies and only when it keeps the
outputs, the reason said in one line, and int8 on every architecture (or refused in one line)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_archs import ARCHS
from torch import nn

from bertkit.engine.onnx_optimize import FUSABLE, check_inputs, fuse_graph
from bertkit.errors import BertkitWarning

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))


class _Lookup(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(50, 4)

    def forward(self, input_ids, attention_mask):  # (B, T) x 2 -> (B, T, 4)
        return self.table(input_ids) * attention_mask.unsqueeze(-1)


def _raw_graph(path):
    config = SimpleNamespace(model_type="bert", vocab_size=50, max_position_embeddings=64, num_attention_heads=1, hidden_size=4)
    feed = check_inputs(["input_ids", "attention_mask"], config, length=8)
    sample = tuple(torch.from_numpy(feed[n]) for n in ("input_ids", "attention_mask"))
    torch.onnx.export(_Lookup().eval(), sample, str(path), input_names=["input_ids", "attention_mask"], output_names=["out"],
                      dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}}, opset_version=17, dynamo=False)
    return config


def test_a_fusion_that_changes_the_outputs_is_refused(tmp_path, monkeypatch):
    """Pattern matching gone wrong (here: an optimiser that doubles a weight) keeps the plain graph."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.transformers import optimizer

    raw = tmp_path / "raw.onnx"
    config = _raw_graph(raw)

    def wrong(path, **_):
        model = onnx.load(path)
        weight = model.graph.initializer[0]
        weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 2, weight.name))
        return SimpleNamespace(model=model, save_model_to_file=lambda out: onnx.save(model, out))

    monkeypatch.setattr(optimizer, "optimize_model", wrong)
    fusion = fuse_graph(raw, tmp_path / "model.onnx", config, ["input_ids", "attention_mask"])
    assert not fusion.fused and fusion.notice and "differs from the plain one" in fusion.reason
    assert (tmp_path / "model.onnx").read_bytes() == raw.read_bytes()


def test_unknown_model_types_are_not_fused_and_say_so(tmp_path):
    raw = tmp_path / "raw.onnx"
    config = _raw_graph(raw)
    config.model_type = "modernbert"
    fusion = fuse_graph(raw, tmp_path / "model.onnx", config, ["input_ids", "attention_mask"])
    assert not fusion.fused and "no patterns for model type 'modernbert'" in fusion.reason and "\n" not in fusion.reason
    assert {"bert", "distilbert", "roberta", "electra", "albert"} <= FUSABLE and not {"deberta-v2", "modernbert"} & FUSABLE


def test_the_skip_is_told_once_at_export(tiny_arch):
    import bertkit

    with pytest.warns(BertkitWarning, match=r"ONNX export for embedding: not fused: .*model type 'modernbert'"):
        bertkit.Embedder(tiny_arch("modernbert"), pooling="cls", backend="onnx", dtype="fp32", device="cpu").embed(["hi"])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", BertkitWarning)  # the cached export says nothing more
        bertkit.Embedder(tiny_arch("modernbert"), pooling="cls", backend="onnx", dtype="fp32", device="cpu").embed(["hi"])


@pytest.mark.parametrize("arch", [pytest.param(a, marks=() if a in ("modernbert",) else (pytest.mark.slow,)) for a in ARCHS])
def test_int8_runs_or_is_refused_in_one_line(tiny_arch, arch):
    """int8 on every architecture: it quantises, and its calibration gate (cosine to fp32)
    either passes, and the vectors are close, or refuses with one line."""
    import bertkit
    from bertkit.errors import BertkitError

    texts = ["Who wrote War and Peace?", "a gorgeous, witty film", "hello"]
    fp32 = bertkit.Embedder(tiny_arch(arch), pooling="mean", backend="torch", dtype="fp32", device="cpu").embed(texts)
    try:
        emb = bertkit.Embedder(tiny_arch(arch), pooling="mean", backend="onnx", dtype="int8", device="cpu")
        got = emb.embed(texts)
    except BertkitError as exc:
        assert "int8 refused" in str(exc) and "\n" not in str(exc)
        return
    cosine = (got * fp32).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(fp32, axis=1)
    assert emb.runtime.dtype == "int8" and cosine.min() > 0.95
