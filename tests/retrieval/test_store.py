"""Writers: one at a time, a failed or killed save leaves the old index, a stale load cannot clobber; reads from threads."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest

from bertkit.errors import UsageError
from bertkit.io.atomic import OutputError
from bertkit.retrieval import Index
from bertkit.retrieval import store


def test_a_second_writer_is_refused(small_index, tmp_path):
    target = tmp_path / "ix"
    fd = os.open(tmp_path / ".ix.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another writer (its own open file) holds the lock
        with pytest.raises(OutputError, match="index .*ix is being written by another bertkit process"):
            small_index.save(target)
    finally:
        os.close(fd)
    assert not target.exists()
    small_index.save(target)  # free again


def test_a_failed_save_leaves_the_old_index_whole(small_index, tiny_embedder, tmp_path, monkeypatch):
    target = tmp_path / "ix"
    small_index.save(target)
    before = sorted(p.name for p in target.iterdir())
    small_index.add(["A new document about volcanoes."], ids=["volcano"])

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C / SIGTERM midway through writing the new directory

    monkeypatch.setattr(store, "finish_writing", killed)
    with pytest.raises(KeyboardInterrupt):
        small_index.save(target)
    assert sorted(p.name for p in target.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert "volcano" not in {h.doc_id for h in Index.load(target, embedder=tiny_embedder).search(["volcanoes"], top_k=50)[0]}


def test_a_killed_writers_leftovers_are_cleaned_and_ignored(small_index, tiny_embedder, tmp_path):
    target = tmp_path / "ix"
    small_index.save(target)
    stale = tmp_path / ".ix.0123456789ab.tmp"  # what SIGKILL during a save leaves
    stale.mkdir()
    (stale / "vectors.safetensors").write_bytes(b"half")
    assert len(Index.load(target, embedder=tiny_embedder)) == len(small_index)
    small_index.save(target)
    assert not stale.exists()


def test_a_stale_copy_cannot_overwrite_newer_changes(small_index, tiny_embedder, tmp_path):
    target = tmp_path / "ix"
    small_index.save(target)
    first, second = Index.load(target, embedder=tiny_embedder), Index.load(target, embedder=tiny_embedder)
    first.add(["one more"], ids=["one"])
    first.save(target)
    second.add(["another"], ids=["two"])
    with pytest.raises(UsageError, match="changed by another writer since it was loaded"):
        second.save(target)
    assert "one" in Index.load(target, embedder=tiny_embedder)._table.doc_ids


def test_an_existing_non_index_directory_is_not_replaced(small_index, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a bertkit index directory"):
        small_index.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_searches_from_threads_while_a_writer_adds(small_index):
    queries = ["capital city", "pets that purr", "memory safety", "rivers and mountains"]
    keep = {"source": ["wiki", "pets", "code"]}  # the documents added meanwhile are "filler"
    serial = [[h.passage_id for h in r] for r in small_index.search(queries, top_k=3, filter=keep)]
    errors, results = [], []

    def reader():
        try:
            for _ in range(5):
                results.append([[h.passage_id for h in r] for r in small_index.search(queries, top_k=3, filter=keep)])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(5):
        small_index.add([f"capital pets memory rivers {i}"], ids=[f"filler{i}"], metadata=[{"source": "filler"}])
    for t in threads:
        t.join()
    assert not errors and len(results) == 20 and all(r == serial for r in results)
    assert len(small_index.search(queries, top_k=50)[0]) > len(small_index.search(queries, top_k=50, filter=keep)[0])


def test_a_save_killed_between_its_two_renames_is_recovered_by_the_next(small_index, tiny_embedder, corpus, tmp_path, monkeypatch):
    """Saved as every model directory is (bertkit.modeldir.writing_model_dir): without an atomic
    exchange the old index is moved aside first; a kill right then leaves no index, a reader is
    told where the old one is, and the next writer puts it back before it writes."""
    from bertkit.errors import ModelLoadError
    from bertkit.modeldir import directory

    target = tmp_path / "ix"
    small_index.save(target)
    small_index.add(["A new document about volcanoes."], ids=["volcano"])

    def killed(step):
        if step == "aside":
            raise KeyboardInterrupt  # SIGTERM between the renames

    monkeypatch.setattr(directory, "exchange_paths", lambda a, b: False)  # no renameat2 (another OS, another filesystem)
    monkeypatch.setattr(directory, "_save_step", killed)
    with pytest.raises(KeyboardInterrupt):
        small_index.save(target)
    assert not target.exists()
    with pytest.raises(ModelLoadError, match="a save into it was interrupted and the previous model is at .*ix.*old"):
        Index.load(target, embedder=tiny_embedder)
    monkeypatch.setattr(directory, "_save_step", lambda step: None)
    texts, ids, meta = corpus
    fresh = Index.build(texts[:2], ids[:2], meta[:2], embedder=tiny_embedder, passage_tokens=24, passage_overlap=4)
    fresh.save(target)  # the old index is put back, then replaced whole
    assert len(Index.load(target, embedder=tiny_embedder)) == len(fresh)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".ix.") and p.name != ".ix.lock") == []
