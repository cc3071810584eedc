"""`bertkit embed` on 20,000 lines as a user sees it: one bar on a terminal, none in a log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
from test_progress import assert_one_bar, run_in_pty  # noqa: E402

LINES = 20_000  # three streamed chunks of 8,192


@pytest.mark.slow  # ~45 s on 2 cores: 20,000 texts through a tiny model twice (the fast check of the bar logic: tests/io)
def test_embed_draws_one_bar_for_all_chunks_and_a_pipe_gets_only_the_summary(tiny_bert, tmp_path):
    source = tmp_path / "lines.txt"
    source.write_text("".join(f"line {i}\n" for i in range(LINES)))
    env = {**os.environ, "BERTKIT_CACHE": str(tmp_path / "cache"), "COLUMNS": "120"}
    argv = [sys.executable, "-m", "bertkit", "embed", str(source), "-o", str(tmp_path / "v.npy"), "-m", str(tiny_bert), "-b", "256"]
    drawn = run_in_pty(argv, env)
    assert_one_bar(drawn, LINES)
    assert f"wrote {tmp_path / 'v.npy'} ({LINES} x" in drawn.replace("\r\n", " ").replace("\n", " ")
    piped = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stderr.splitlines()
    assert "\r" not in piped.stderr and len(lines) == 1 and lines[0].startswith("wrote "), piped.stderr
    assert re.search(rf"{LINES} texts, [\d,]+ tokens", lines[0])
