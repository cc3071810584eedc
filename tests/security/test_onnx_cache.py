"""A truncated cached ONNX export is noticed, rebuilt with one warning line, and not reused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bertkit.embeddings.embedder import Embedder
from bertkit.errors import BertkitWarning


@pytest.mark.slow
def test_truncated_onnx_cache_entry_is_rebuilt(tmp_path, tiny_bert, monkeypatch, one_thread):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))
    texts = ["a first text", "and a second, longer one"]
    expected = Embedder(tiny_bert, backend="onnx", dtype="fp32", device="cpu").embed(texts)
    [graph] = list((tmp_path / "cache" / "onnx").rglob("model.onnx"))
    data = graph.read_bytes()
    graph.write_bytes(data[: len(data) // 3])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = Embedder(tiny_bert, backend="onnx", dtype="fp32", device="cpu").embed(texts)
    notes = [str(w.message) for w in caught if issubclass(w.category, BertkitWarning)]
    assert len(notes) == 1 and "damaged" in notes[0] and "again" in notes[0], notes
    np.testing.assert_allclose(again, expected, atol=1e-5)
    assert graph.read_bytes() == data  # the entry was rebuilt, so the next run reuses a good one
