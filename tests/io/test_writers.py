from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from bertkit.errors import UsageError
from bertkit.io.atomic import atomic_path
from bertkit.io.writers import write_embeddings, write_word_vectors

TEXTS = ["a", "b c"]
VECS = np.arange(6, dtype=np.float32).reshape(2, 3) / 7


def test_npy(tmp_path):
    write_embeddings(str(tmp_path / "v.npy"), TEXTS, VECS)
    out = np.load(tmp_path / "v.npy", allow_pickle=False)
    assert out.dtype == np.float32 and np.array_equal(out, VECS)


def test_parquet(tmp_path):
    write_embeddings(str(tmp_path / "v.parquet"), TEXTS, VECS)
    table = pq.read_table(tmp_path / "v.parquet")
    assert table.column("text").to_pylist() == TEXTS
    np.testing.assert_allclose(np.array(table.column("vector").to_pylist()), VECS)


def test_jsonl(tmp_path):
    write_embeddings(str(tmp_path / "v.jsonl"), TEXTS, VECS)
    rows = [json.loads(l) for l in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert [r["text"] for r in rows] == TEXTS
    np.testing.assert_allclose([r["vector"] for r in rows], VECS, atol=1e-6)


@pytest.mark.parametrize("ext", [".parquet", ".jsonl"])
def test_word_vectors(tmp_path, ext):
    path = str(tmp_path / f"w{ext}")
    write_word_vectors(path, ["x y", ""], [["x", "y"], []], [np.ones((2, 3), np.float32), np.zeros((0, 3), np.float32)])
    if ext == ".parquet":
        t = pq.read_table(path).to_pylist()
        assert t[0]["words"] == ["x", "y"] and len(t[0]["vectors"]) == 2 and t[1]["words"] == []
    else:
        rows = [json.loads(l) for l in open(path)]
        assert rows[0]["words"] == ["x", "y"] and rows[0]["vectors"] == [[1, 1, 1], [1, 1, 1]]


def test_bad_extension(tmp_path):
    with pytest.raises(UsageError, match=r"unsupported output extension '.csv'; valid: .npy, .parquet, .jsonl"):
        write_embeddings(str(tmp_path / "v.csv"), TEXTS, VECS)
    with pytest.raises(UsageError, match=r"word-vector output \(--tokens\)"):
        write_word_vectors(str(tmp_path / "v.npy"), [], [], [])


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_gives_usual_permissions(tmp_path):
    import os

    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_write_interrupted_while_creating_leaves_nothing(tmp_path, monkeypatch):
    # A signal (KeyboardInterrupt) landing just after the temporary file is created.
    import os

    import bertkit.io.atomic as atomic

    real_open = os.open

    def open_then_interrupt(*args, **kwargs):
        os.close(real_open(*args, **kwargs))
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "out.npy") as tmp:
            tmp.write_text("never")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_never_removes_a_file_it_did_not_make(tmp_path, monkeypatch):
    import bertkit.io.atomic as atomic

    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: "same")
    other = tmp_path / ".out.npy.same.npy.tmp"  # another writer's temporary file of the same name
    other.write_text("theirs")
    with pytest.raises(FileExistsError):
        with atomic_path(tmp_path / "out.npy"):
            pass
    assert other.read_text() == "theirs"
