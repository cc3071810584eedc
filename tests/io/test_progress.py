"""The job's one progress display: shares of one bar, a line a minute off a terminal."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from bertkit.io.progress import JobProgress, format_duration, progress_bar


def test_loops_share_one_total_and_pass_on_whole_items():
    job = JobProgress(10, terminal=False, every=3600, log=lambda line: None)
    for _ in range(2):  # two chunks of 5 texts, tokenized into 7 windows each
        with progress_bar(job, total=7, counts_as=5) as bar:
            for _ in range(7):
                bar.update(1, tokens=3)
                assert isinstance(job.done, int)
    assert (job.done, job.total, job.tokens) == (10, 10, 42)


def test_loops_announce_their_items_when_the_total_is_not_known():
    job = JobProgress(None, terminal=False, every=3600, log=lambda line: None)
    progress_bar(job, total=4).update(4)
    progress_bar(job, total=6)  # a second pass (an int8 gate's reference run) grows the job
    assert (job.done, job.total) == (4, 10)


def test_off_a_terminal_it_writes_plain_lines_at_most_every_interval():
    lines: list[str] = []
    job = JobProgress(100, desc="embedding", terminal=False, every=0, log=lines.append)
    with progress_bar(job, total=100) as bar:
        for _ in range(4):
            bar.update(25, tokens=250)
    assert len(lines) == 3 and not any("\r" in line for line in lines)  # nothing once the job is done
    assert re.fullmatch(r"embedding: 25/100 texts \(25%\), [\d,]+ tokens/s, about \d+ s left", lines[0])
    quiet: list[str] = []
    job = JobProgress(100, terminal=False, every=60, log=quiet.append)
    progress_bar(job, total=100).update(50)
    assert quiet == []  # a short run off a terminal: only the command's own summary line


def test_a_bool_keeps_the_old_meaning():
    with progress_bar(False, total=3) as bar:
        bar.update(3)
        bar.set_postfix(loss=1.0)


def test_durations_read_naturally():
    assert [format_duration(s) for s in (42, 210, 9000)] == ["42 s", "3.5 min", "2.5 h"]


SCRIPT = """
import time
from bertkit.io.progress import JobProgress, progress_bar
with JobProgress(20000, desc="embedding", terminal=None) as job:
    for start in range(0, 20000, 8192):
        n = min(8192, 20000 - start)
        bar = progress_bar(job, total=n + 7, counts_as=n)
        for _ in range(n + 7):
            bar.update(1, tokens=5)
        time.sleep(0.25)
print("done", flush=True)
"""


def run_in_pty(argv: list[str], env: dict | None = None) -> str:
    """Run ``argv`` with stderr (and stdout) on a real pseudo-terminal; return what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a real terminal has a size
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def assert_one_bar(drawn: str, total: int) -> None:
    counts = [(int(a), int(b)) for a, b in re.findall(r"\b(\d+)/(\d+) \[", drawn)]
    assert counts, drawn[-500:]
    assert {b for _, b in counts} == {total}, "a bar per chunk: its total is the chunk's, not the job's"
    done = [a for a, _ in counts]
    assert done == sorted(done), "the count went back to 0: a new bar per chunk"
    assert "tok/s" in drawn


def test_a_terminal_gets_one_bar_for_the_whole_job():
    drawn = run_in_pty([sys.executable, "-c", SCRIPT])
    assert_one_bar(drawn, 20000)
    assert drawn.rstrip().endswith("done")


def test_a_pipe_gets_no_bar():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "done\n"


def test_stream_is_used_for_the_bar():
    stream = io.StringIO()
    with JobProgress(3, terminal=True, stream=stream) as job:
        progress_bar(job, total=3).update(3)
    drawn = stream.getvalue()
    assert "0/3" in drawn and drawn.endswith("\r")  # drawn, then erased: the command's summary line follows
