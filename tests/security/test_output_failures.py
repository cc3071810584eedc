"""Outputs that cannot be written: checked before the work, or one line at write time; nothing clobbered."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from bertkit.cli.app import main
from bertkit.io.atomic import OutputError, atomic_path, atomic_write_text, check_output


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def texts(tmp_path):
    (tmp_path / "in.txt").write_text("one text\nanother text\n")
    return tmp_path / "in.txt"


def test_output_is_a_directory_refused_before_work(tmp_path, texts, capsys):
    (tmp_path / "out.npy").mkdir()
    # a model that does not exist: the output check must come first
    code, _, err = run(["embed", texts, "-o", tmp_path / "out.npy", "--model", tmp_path / "missing"], capsys)
    assert code == 2
    assert "is a directory" in one_line(err)


def test_parent_is_a_file_refused(tmp_path, texts, capsys):
    (tmp_path / "file").write_text("x")
    code, _, err = run(["embed", texts, "-o", tmp_path / "file" / "out.npy", "--model", tmp_path / "missing"], capsys)
    assert code == 2
    assert "is not a directory" in one_line(err)


def test_qa_and_classify_outputs_checked(tmp_path, capsys):
    (tmp_path / "q.jsonl").write_text('{"question": "q", "context": "c"}\n')
    (tmp_path / "answers.jsonl").mkdir()
    code, _, err = run(["qa", "ask", "--input", tmp_path / "q.jsonl", "-o", tmp_path / "answers.jsonl", "--model", tmp_path / "missing"], capsys)
    assert code == 2 and "is a directory" in one_line(err)
    (tmp_path / "t.txt").write_text("a\n")
    (tmp_path / "p.jsonl").mkdir()
    code, _, err = run(["classify", "predict", "--input", tmp_path / "t.txt", "-o", tmp_path / "p.jsonl", "--model", tmp_path / "missing"], capsys)
    assert code == 2 and "is a directory" in one_line(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only (mode 0555) directories; see the statvfs check")
def test_read_only_directory_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            check_output(locked / "out.npy", "--output")
    finally:
        locked.chmod(0o755)


def test_read_only_file_system_refused(tmp_path, monkeypatch):
    """A read-only mount (simulated: statvfs reports ST_RDONLY), refused even for root."""
    real = os.statvfs

    class ReadOnly:
        def __init__(self, result):
            self.f_flag = result.f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", lambda p: ReadOnly(real(p)))
    with pytest.raises(OutputError, match="read-only file system"):
        check_output(tmp_path / "out.npy", "--output")


def _no_temp_files(directory):
    return not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "no space left"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_write_failure_is_one_error_and_keeps_old_file(tmp_path, code, words):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(OutputError, match=words) as info:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(code, os.strerror(code))
    assert str(target) in str(info.value)
    assert target.read_text() == "old"
    assert _no_temp_files(tmp_path)


def test_interrupt_while_writing_removes_temp_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old" and _no_temp_files(tmp_path)


def test_disk_full_during_embed_is_one_line(tmp_path, texts, tiny_bert, capsys, monkeypatch):
    from bertkit.io.stream import EmbeddingStreamWriter

    out = tmp_path / "out.npy"
    np.save(out, np.ones(2, np.float32))

    def full(self, texts, vectors):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(EmbeddingStreamWriter, "write", full)
    code, _, err = run(["embed", texts, "-o", out, "--model", tiny_bert, "--backend", "torch"], capsys)
    assert code == 2
    line = one_line(err)
    assert line.startswith("bertkit: error: cannot write") and "no space left" in line
    assert np.array_equal(np.load(out), np.ones(2, np.float32))
    assert _no_temp_files(tmp_path)


def test_atomic_write_does_not_touch_the_umask(tmp_path, monkeypatch):
    """The umask is process-wide: reading it per write (set + reset) races with other threads."""

    def forbidden(mask):
        raise AssertionError("os.umask called while writing")

    monkeypatch.setattr(os, "umask", forbidden)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").read_text() == "x"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc, where no directory can be created")
def test_a_parent_that_cannot_be_created_is_one_line(tmp_path):
    with pytest.raises(OutputError, match="cannot write .*x.npy: its directory cannot be created"):
        with atomic_path("/proc/no-such-dir/x.npy"):
            pass
