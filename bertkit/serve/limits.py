"""The gate every request passes: request id, Host check, draining, API key, the body
(size, time, JSON checks), concurrency, HEAD, TEI's root route, metrics, the last-resort 500.

A plain ASGI middleware (no per-request thread or task). In order, it answers:
421 when the ``Host`` header is not this server's (DNS rebinding; ``--allowed-hosts``),
503 while the server drains, 401 without the right ``Authorization: Bearer`` key (when one
is set), 413 for a body over the payload limit, 408 for a body not received within
``--body-timeout``, 422 for a JSON body that is malformed, too deep, holds a non-finite
number or a lone surrogate (guards.py), and only then, with the whole body in hand, takes
one of ``--max-concurrent-requests`` slots (429 beyond them): a slow client never holds a
slot while it sends. ``HEAD`` is answered wherever ``GET`` is (the body left out).
``POST /`` is routed as TEI routes it (root.py). A route that fails unexpectedly gets a 500
with a request id (logged).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time

from bertkit.serve.errors import error_body, logger, new_request_id
from bertkit.serve.guards import BodyError, host_allowed, is_json, parse_json_body
from bertkit.serve.root import ROOT_PATHS, RootError, dispatch

__all__ = ["ServeMiddleware", "PUBLIC_PATHS", "UNLIMITED_PATHS"]

DOCS_STATIC = "/static-offline-docs/"  # Swagger UI's assets (fastapi-offline)
PUBLIC_PATHS = ("/", "/health", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/favicon.ico")  # GET: no API key needed
UNLIMITED_PATHS = ("/", "/health", "/info", "/metrics", "/docs", "/redoc", "/openapi.json")  # GET: not counted as in-flight work
_READS = ("GET", "HEAD")
_BODIES = ("POST", "PUT", "PATCH")


class _Reject(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _static(path: str) -> bool:
    return path.startswith(("/static/", DOCS_STATIC))


class ServeMiddleware:
    def __init__(self, app, state) -> None:
        self.app = app
        self.state = state  # bertkit.serve.app.ServerState

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope.get("method", "GET")
        head = method == "HEAD"
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            elif head and message["type"] == "http.response.body":
                message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        counted = not ((path in UNLIMITED_PATHS and method in _READS) or _static(path))
        try:
            self._check_gate(scope, path, method)
            if head:  # answered wherever GET is, without the body
                scope = dict(scope, method="GET")
            if method in _BODIES:
                scope, receive = await self._read_body(scope, receive)
            if counted:
                self._take_slot()
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                if counted:
                    self.state.in_flight -= 1
                    self.state.metrics.in_flight.dec()
        except _Reject as r:
            await _send_json(send_wrapper, path, r.status, r.message, r.headers)
        except Exception as exc:  # noqa: BLE001 - the last resort: log, answer 500, keep serving
            logger.error("request %s %s %s failed: %s", rid, method, path, exc, exc_info=exc)
            if not status["sent"]:
                await _send_json(send_wrapper, path, 500, f"internal error (request id {rid}); the server logged it")
        finally:
            route = path if path in self.state.route_paths else ("/static" if _static(path) else "other")
            self.state.metrics.requests.labels(route, str(status["code"])).inc()
            self.state.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)

    def _check_gate(self, scope, path: str, method: str) -> None:
        state, options = self.state, self.state.options
        host = _header(scope, b"host")
        if not host_allowed(host, options.hosts, options.host):
            raise _Reject(421, f"Host {host!r} is not a name of this server; start it with --allowed-hosts NAME to accept it",
                          {"Connection": "close"})
        if state.draining and path != "/health":
            raise _Reject(503, "the server is shutting down; retry on another instance", {"Connection": "close"})
        key = options.api_key
        public = (path in PUBLIC_PATHS and method in _READS) or _static(path)
        if key and not public:
            auth = _header(scope, b"authorization")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not token:
                raise _Reject(401, "missing API key: send 'Authorization: Bearer <key>'", {"WWW-Authenticate": "Bearer"})
            if not hmac.compare_digest(token.encode(), key.encode()):
                raise _Reject(401, "wrong API key", {"WWW-Authenticate": "Bearer"})
        length = _header(scope, b"content-length")
        if length.isdigit() and int(length) > options.payload_limit:
            raise _Reject(413, f"request body of {int(length)} bytes is over the payload limit of {options.payload_limit} bytes")

    def _take_slot(self) -> None:
        state = self.state
        if state.in_flight >= state.options.max_concurrent_requests:
            raise _Reject(429, f"too many concurrent requests (limit {state.options.max_concurrent_requests}); retry later", {"Retry-After": "1"})
        state.in_flight += 1
        state.metrics.in_flight.inc()

    async def _read_body(self, scope, receive):
        """Read the whole body within the time and size limits, check its JSON, route
        ``POST /``; returns the (possibly re-routed) scope and a receive that replays it."""
        timeout = self.state.options.body_timeout
        try:
            body = await asyncio.wait_for(self._receive_all(receive), timeout)
        except asyncio.TimeoutError:
            raise _Reject(408, f"the request body did not arrive within {timeout:g} s (--body-timeout)", {"Connection": "close"}) from None
        if body is None:  # the client went away
            return scope, receive
        if body and is_json(_header(scope, b"content-type")):
            try:
                parsed = parse_json_body(body)
            except BodyError as exc:
                raise _Reject(422, str(exc)) from None
            if scope["path"] in ROOT_PATHS and scope.get("method") == "POST":
                scope, body = self._route_root(scope, parsed, body)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return scope, replay

    async def _receive_all(self, receive) -> bytes | None:
        limit = self.state.options.payload_limit
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Reject(413, f"request body is over the payload limit of {limit} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    def _route_root(self, scope, parsed, body: bytes):
        state = self.state
        if state.models is None:
            raise _Reject(503, state.load_error or "the models are still loading; retry shortly")
        try:
            target, new_body = dispatch(parsed, state.models.loaded(), state.route_paths)
        except RootError as exc:
            raise _Reject(exc.status, exc.message) from None
        headers = scope.get("headers", [])
        if new_body is not parsed:
            body = json.dumps(new_body).encode()
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"] + [(b"content-length", str(len(body)).encode())]
        return dict(scope, path=target, raw_path=target.encode(), headers=headers), body


def _header(scope, name: bytes) -> str:
    for k, v in scope.get("headers", ()):
        if k.lower() == name:
            return v.decode("latin-1")
    return ""


async def _send_json(send, path: str, status: int, message: str, headers: dict | None = None) -> None:
    body = json.dumps(error_body(path, status, message)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
