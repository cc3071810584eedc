"""Ctrl-C and SIGTERM in a real ``bertkit`` process: one line, exit 130 / 143, no temp file, old output kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "BERTKIT_CACHE": str(cwd / "cache")}
    return subprocess.Popen(
        [sys.executable, "-m", "bertkit", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for(proc: subprocess.Popen, found, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not found():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"bertkit ended (rc {proc.returncode}) before the signal: {err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("timed out waiting for the run to reach the point to signal")
        time.sleep(0.05)


def _embed_run(tmp_path: Path, tiny_bert: Path, sig: int) -> tuple[int, str, Path]:
    lines = [f"text number {i} " + "word " * (i % 40) for i in range(150_000)]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.npy"
    np.save(out, np.arange(3, dtype=np.float32))  # the previous output: must survive
    proc = _start(["embed", "in.txt", "-o", "out.npy", "--model", str(tiny_bert), "--batch-size", "8", "--backend", "torch"], tmp_path)
    _wait_for(proc, lambda: any(tmp_path.glob(".out.npy.*.tmp")))
    time.sleep(0.3)  # well inside the write loop
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err, out


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_embed_signal(tmp_path, tiny_bert, sig, code, word):
    rc, err, out = _embed_run(tmp_path, tiny_bert, sig)
    assert rc == code, err
    assert err.strip().splitlines()[-1] == f"bertkit: {word}", err
    assert "Traceback" not in err
    assert np.array_equal(np.load(out), np.arange(3, dtype=np.float32))  # old output intact
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


@pytest.mark.slow
def test_training_interrupt_names_checkpoint(tmp_path, tiny_bert):
    rows = ["text,label"] + [f"sample text {i} {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}" for i in range(400)]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    proc = _start(
        ["classify", "train", "--train", "train.csv", "--out", "clf", "--base", str(tiny_bert), "--epochs", "50",
         "--batch-size", "4", "--checkpoint-every", "2", "--max-length", "16"], tmp_path,
    )
    _wait_for(proc, lambda: any((tmp_path / "clf").rglob("checkpoint/state.json")))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("bertkit: interrupted; last checkpoint: ") and "--resume" in last, err
    assert "Traceback" not in err
    assert not list((tmp_path / "clf").rglob("*.tmp"))


def test_a_signal_inside_a_destructor_is_not_lost():
    """A signal landing in a ``__del__`` (where Python drops exceptions) still stops the command."""
    from bertkit.cli.signals import Stopped, handle_signals

    class Trap:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100_000):  # the handler runs in here, inside the destructor
                pass

    started = time.monotonic()
    with pytest.raises(Stopped) as info:
        with handle_signals():
            Trap()  # collected at once: its __del__ receives the signal
            time.sleep(5)
    assert info.value.code == 143
    assert time.monotonic() - started < 4
