"""Fixtures: one server with the packaged models for the whole session, a tiny served tagger, one torch thread."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import torch
from serve_helpers import running

from bertkit.serve import ServeOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tagging"))
from tiny_conll import sentences, write_conll  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def serve_threads():
    """One torch thread while these tests run (servers and library alike): the machine has 2
    shared cores. Restored after each module, so other packages' tests are unaffected."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def full_server():
    """The packaged encoder, the shipped sentiment model and the shipped QA model."""
    with running(ServeOptions()) as (url, app, _):
        yield url, app


@pytest.fixture(scope="session")
def full_client(full_server):
    with httpx.Client(base_url=full_server[0], timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def tagger_dir(tmp_path_factory, tiny_bert) -> Path:
    """A features-mode BiLSTM-CRF tagger on the tiny random BERT (a few seconds)."""
    from bertkit.tagging import TagTrainOptions, train_tagger

    root = tmp_path_factory.mktemp("served-tagger")
    train = write_conll(root / "train.conll", sentences(24, seed=1))
    opts = TagTrainOptions(train=str(train), dev=str(train), out=str(root / "tagger"), model=str(tiny_bert), device="cpu",
                           max_length=32, checkpoint_every=0, epochs=20, lr=1e-2, lstm_hidden=16, dropout=0.0, patience=0,
                           no_cache=True)
    train_tagger(opts)
    return root / "tagger"
