"""Running the app under uvicorn, with a graceful drain on SIGTERM/SIGINT.

On the first signal the app stops taking work (503, ``/health`` included), uvicorn stops
accepting connections and waits for the requests in flight, the batchers finish, and
:func:`serve` returns 0. A second SIGINT forces the exit.
"""

from __future__ import annotations

import signal

import uvicorn

from bertkit.errors import ModelLoadError
from bertkit.serve.app import create_app
from bertkit.serve.options import ServeOptions

__all__ = ["Server", "serve", "GRACEFUL_SECONDS"]

GRACEFUL_SECONDS = 30  # longest wait for requests in flight after a signal


class Server(uvicorn.Server):
    """uvicorn's server that marks the app as draining on a signal, and exits cleanly
    (uvicorn would re-raise the signal after shutting down, ending the process by it)."""

    def handle_exit(self, sig: int, frame) -> None:
        app = self.config.app
        state = getattr(getattr(app, "state", None), "bertkit", None)
        if state is not None:
            state.draining = True
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def build_server(options: ServeOptions, app=None, *, log_level: str = "info") -> Server:
    app = app if app is not None else create_app(options)
    config = uvicorn.Config(
        app, host=options.host, port=options.port, log_level=log_level, access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS, lifespan="on",
    )
    return Server(config)


def serve(options: ServeOptions, app=None) -> int:
    """Serve until SIGTERM/SIGINT, then drain; returns 0 after a clean drain.

    The models load after the socket is bound (``/health`` says 503 meanwhile); when they
    fail to load, the server stops and the error is raised as a ModelLoadError.
    """
    server = build_server(options, app)
    state = server.config.app.state.bertkit

    def stop() -> None:
        server.should_exit = True

    state.on_load_error = stop
    server.run()
    if state.load_error:
        raise ModelLoadError(state.load_error)
    return 0 if server.started else 1
