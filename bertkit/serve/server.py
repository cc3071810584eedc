"""Running the app under uvicorn, with a graceful drain on SIGTERM/SIGINT.

On the first signal the app stops taking work (503, ``/health`` included), uvicorn stops
accepting connections and waits for the requests in flight, the batchers finish, and
:func:`serve` returns 0. A second SIGINT forces the exit.
"""

from __future__ import annotations

import errno
import signal
import socket

import uvicorn

from bertkit.errors import ModelLoadError, UsageError
from bertkit.serve.app import create_app
from bertkit.serve.options import ServeOptions

__all__ = ["Server", "serve", "check_address", "GRACEFUL_SECONDS"]

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


def check_address(host: str, port: int) -> None:
    """A UsageError naming the address when ``host:port`` cannot be bound (in use, not an
    address of this machine, a privileged port), before any model loads."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host!r} is not a known address: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"port {port} on {host} is already in use; stop the other server or choose another --port") from None
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve(options: ServeOptions, app=None) -> int:
    """Serve until SIGTERM/SIGINT, then drain; returns 0 after a clean drain.

    The models load after the socket is bound (``/health`` says 503 meanwhile); when they
    fail to load, the server stops and the error is raised as a ModelLoadError.
    """
    check_address(options.host, options.port)
    server = build_server(options, app)
    state = server.config.app.state.bertkit

    def stop() -> None:
        server.should_exit = True

    state.on_load_error = stop
    try:
        server.run()
    except SystemExit:  # uvicorn could not bind after all (taken since the check); it logged why
        raise UsageError(f"cannot listen on {options.host}:{options.port} (see the line above)") from None
    if state.load_error:
        raise ModelLoadError(state.load_error)
    return 0 if server.started else 1
