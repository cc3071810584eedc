"""``bertkit tour``, the README's main job, run as a user runs it: the console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SECTIONS = ("1. Embeddings", "2. Inspect", "3. Classification", "4. Question answering")


def bertkit_command() -> list[str]:
    """The installed console script next to this Python (as the README runs it), else ``-m bertkit``."""
    script = Path(sys.executable).with_name("bertkit")
    if script.exists():
        return [str(script)]
    found = shutil.which("bertkit")
    return [found] if found else [sys.executable, "-m", "bertkit"]


@pytest.mark.slow
def test_tour_runs_and_shows_every_section(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BERTKIT_CACHE": str(tmp_path / "cache"), "COLUMNS": "200"}
    proc = subprocess.run(bertkit_command() + ["tour"], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for section in SECTIONS:
        assert section in out, f"section {section!r} missing from the tour"
    # each section shows real results, not just its title
    assert "mean+max" in out and "768" in out  # the pooling table, with the concatenated width
    assert "Word vectors from sub-word pieces" in out
    assert "word_embeddings" in out and "[CLS]" in out  # inspect: embedding tables and the token table
    assert "positive" in out and "negative" in out  # the sentiment model's labels
    assert "Orellana" in out and "null odds" in out  # the QA model's best span for the first question, and its null odds
    assert "Traceback" not in proc.stderr
