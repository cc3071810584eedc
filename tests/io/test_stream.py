import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from bertkit.io.stream import EmbeddingStreamWriter


@pytest.mark.parametrize("ext", [".npy", ".parquet", ".jsonl"])
def test_chunks_add_up_to_one_file(tmp_path, ext):
    path = tmp_path / f"v{ext}"
    vecs = np.arange(15, dtype=np.float32).reshape(5, 3)
    with EmbeddingStreamWriter(path, dim=3, rows=5) as w:
        w.write(["a", "b"], vecs[:2])
        w.write(["c", "d", "e"], vecs[2:])
    if ext == ".npy":
        np.testing.assert_array_equal(np.load(path), vecs)
    elif ext == ".parquet":
        t = pq.read_table(path)
        assert t.column("text").to_pylist() == list("abcde")
        np.testing.assert_array_equal(np.array(t.column("vector").to_pylist()), vecs)
    else:
        rows = [json.loads(l) for l in path.read_text().splitlines()]
        assert [r["text"] for r in rows] == list("abcde") and rows[4]["vector"] == [12.0, 13.0, 14.0]


def test_failure_or_short_write_leaves_nothing(tmp_path):
    path = tmp_path / "v.npy"
    with pytest.raises(RuntimeError, match="wrote 1 rows, expected 2"):
        with EmbeddingStreamWriter(path, dim=2, rows=2) as w:
            w.write(["a"], np.zeros((1, 2)))
    with pytest.raises(KeyError):
        with EmbeddingStreamWriter(path, dim=2, rows=2) as w:
            raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []
