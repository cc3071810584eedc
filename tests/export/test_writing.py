"""An export directory: one writer of OUT at a time, a killed export's leftovers cleared, nothing kept on failure."""

from __future__ import annotations

import fcntl
import os

import pytest

from bertkit.export.writing import new_directory
from bertkit.io.atomic import OutputError


def test_a_second_writer_of_out_is_refused_in_one_line(tmp_path):
    fd = os.open(tmp_path / ".out.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another export (its own open file) holds OUT
        with pytest.raises(OutputError, match="OUT .*out is being written by another bertkit process"), new_directory(tmp_path / "out"):
            pass
    finally:
        os.close(fd)
    assert not (tmp_path / "out").exists()


def test_leftovers_are_cleared_and_a_failure_keeps_nothing(tmp_path):
    stale = tmp_path / ".out.0123456789ab.tmp"  # what SIGKILL during an export leaves
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    with pytest.raises(RuntimeError), new_directory(tmp_path / "out") as work:
        (work / "config.json").write_text("{}")
        raise RuntimeError("the export failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.lock"]
    with new_directory(tmp_path / "out") as work:
        (work / "config.json").write_text("{}")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["config.json"]
