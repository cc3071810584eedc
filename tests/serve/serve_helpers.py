"""Running a real server for a test: uvicorn in a thread of the test process, 127.0.0.1, a free port."""

from __future__ import annotations

import contextlib
import threading
import time

import httpx

from bertkit.serve import ServeOptions, create_app
from bertkit.serve.server import build_server

__all__ = ["running"]


@contextlib.contextmanager
def running(options: ServeOptions, models=None, *, wait_ready: bool = True):
    """Serve ``options`` (or ready ``models``) on a free port; yields (base url, app, server)."""
    options.port = 0
    app = create_app(options, models)
    server = build_server(options, app, log_level="warning")
    thread = threading.Thread(target=server.run, name="bertkit-test-server", daemon=True)
    thread.start()
    deadline = time.time() + 120
    while not server.started:
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    if wait_ready:
        with httpx.Client(base_url=url, timeout=10) as c:
            while c.get("/health").status_code != 200:
                if time.time() > deadline or app.state.bertkit.load_error:
                    raise RuntimeError(f"the test server never became ready: {app.state.bertkit.load_error}")
                time.sleep(0.05)
    try:
        yield url, app, server
    finally:
        server.should_exit = True
        thread.join(timeout=60)
