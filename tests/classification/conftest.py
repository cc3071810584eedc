"""Fixtures: a tiny random BERT (session), tiny sentiment data, an isolated feature cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_data import make_tiny_bert, sentiment_rows, write_rows


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture()
def train_csv(tmp_path) -> Path:
    return write_rows(tmp_path / "train.csv", sentiment_rows(24))


@pytest.fixture()
def dev_csv(tmp_path) -> Path:
    return write_rows(tmp_path / "dev.csv", sentiment_rows(8))


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every classification test runs on one torch thread (see the root conftest)."""


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTKIT_CACHE", str(tmp_path / "cache"))
