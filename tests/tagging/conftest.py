"""Fixtures: generated CoNLL files, one torch thread, an isolated cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from tiny_conll import sentences, write_conll  # noqa: E402


@pytest.fixture(autouse=True)
def _env(one_thread, tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))


@pytest.fixture()
def train_conll(tmp_path) -> Path:
    return write_conll(tmp_path / "train.conll", sentences(24, seed=1))


@pytest.fixture()
def dev_conll(tmp_path) -> Path:
    return write_conll(tmp_path / "dev.conll", sentences(8, seed=2), sep=" ")
