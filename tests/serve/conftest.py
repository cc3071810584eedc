"""Fixtures: one server with the packaged models for the whole session, one torch thread."""

from __future__ import annotations

import httpx
import pytest
import torch
from serve_helpers import running

from bertkit.serve import ServeOptions


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
