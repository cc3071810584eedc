"""Two writers of one output directory at once: the second is refused with one line naming
the first's pid, before any work; the lock goes with its process (even SIGKILLed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
HOLDER = "import sys, time\nfrom bertkit.io.atomic import output_lock\nwith output_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n"


def _data(root: Path):
    sys.path.insert(0, str(REPO / "tests" / "classification"))
    from tiny_data import make_tiny_bert, sentiment_rows, write_rows

    return make_tiny_bert(root / "bert"), write_rows(root / "train.csv", sentiment_rows(24)), write_rows(root / "dev.csv", sentiment_rows(8))


def _bertkit(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bertkit", *args], env=ENV, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.slow  # over ~1.3 s: the default suite stays under 3 minutes
def test_a_second_writer_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "model"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = _bertkit("classify", "train", "--train", str(tmp_path / "t.csv"), "--out", str(out), "--epochs", "1")
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and f"pid {holder.pid}" in lines[0] and "is being written by another bertkit process" in lines[0], err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    from bertkit.io.atomic import output_lock

    with output_lock(out):  # a killed holder's lock is gone with it
        pass


def test_the_lock_nests_within_one_process(tmp_path):
    from bertkit.io.atomic import output_lock

    with output_lock(tmp_path / "m"), output_lock(tmp_path / "m"):
        assert (tmp_path / ".m.lock").read_text().strip() == str(os.getpid())


@pytest.mark.slow  # two real training processes
def test_two_trainings_into_one_out(tmp_path):
    bert, train, dev = _data(tmp_path)
    out = tmp_path / "model"
    args = ["classify", "train", "--train", str(train), "--dev", str(dev), "--base", str(bert), "--out", str(out),
            "--epochs", "40", "--batch-size", "2", "--lr", "1e-3"]
    first = _bertkit(*args)
    try:
        deadline = time.time() + 120
        lock = tmp_path / ".model.lock"
        while not (lock.is_file() and lock.read_text().strip()) and time.time() < deadline:
            time.sleep(0.1)
        second = _bertkit(*args)
        _, err = second.communicate(timeout=120)
        assert first.poll() is None, "the first training ended before the second started"
        assert second.returncode == 2 and f"pid {first.pid}" in err and len(err.strip().splitlines()) == 1, err
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
