"""The gate every request passes: request id, draining, API key, payload size,
concurrency, metrics, and the last-resort 500.

A plain ASGI middleware (no per-request thread or task): it answers 503 while the
server drains, 401 without the right ``Authorization: Bearer`` key (when one is set),
413 for a body over the payload limit (read and buffered here, so routes never see
more), 429 beyond ``max_concurrent_requests`` requests in flight, and 500 with a
request id (logged) when a route fails unexpectedly.
"""

from __future__ import annotations

import hmac
import json
import time

from bertkit.serve.errors import error_body, logger, new_request_id

__all__ = ["ServeMiddleware", "PUBLIC_PATHS", "UNLIMITED_PATHS"]

PUBLIC_PATHS = ("/", "/health", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/favicon.ico")  # no API key needed
UNLIMITED_PATHS = ("/", "/health", "/info", "/metrics", "/docs", "/openapi.json")  # not counted as in-flight work


class _Reject(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class ServeMiddleware:
    def __init__(self, app, state) -> None:
        self.app = app
        self.state = state  # bertkit.serve.app.ServerState

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        counted = path not in UNLIMITED_PATHS and not path.startswith("/static/")
        try:
            self._check_gate(scope, path, counted)
            if counted:
                self.state.in_flight += 1
                self.state.metrics.in_flight.inc()
            try:
                receive = await self._buffered(scope, receive)
                await self.app(scope, receive, send_wrapper)
            finally:
                if counted:
                    self.state.in_flight -= 1
                    self.state.metrics.in_flight.dec()
        except _Reject as r:
            await _send_json(send_wrapper, path, r.status, r.message, r.headers)
        except Exception as exc:  # noqa: BLE001 - the last resort: log, answer 500, keep serving
            logger.error("request %s %s %s failed: %s", rid, scope.get("method"), path, exc, exc_info=exc)
            if not status["sent"]:
                await _send_json(send_wrapper, path, 500, f"internal error (request id {rid}); the server logged it")
        finally:
            route = path if path in self.state.route_paths else ("/static" if path.startswith("/static/") else "other")
            self.state.metrics.requests.labels(route, str(status["code"])).inc()
            self.state.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)

    def _check_gate(self, scope, path: str, counted: bool) -> None:
        state = self.state
        if state.draining and path != "/health":
            raise _Reject(503, "the server is shutting down; retry on another instance", {"Connection": "close"})
        key = state.options.api_key
        if key and path not in PUBLIC_PATHS and not path.startswith("/static/"):
            auth = _header(scope, b"authorization")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not token:
                raise _Reject(401, "missing API key: send 'Authorization: Bearer <key>'", {"WWW-Authenticate": "Bearer"})
            if not hmac.compare_digest(token.encode(), key.encode()):
                raise _Reject(401, "wrong API key", {"WWW-Authenticate": "Bearer"})
        if counted and state.in_flight >= state.options.max_concurrent_requests:
            raise _Reject(429, f"too many concurrent requests (limit {state.options.max_concurrent_requests}); retry later", {"Retry-After": "1"})
        length = _header(scope, b"content-length")
        if length.isdigit() and int(length) > state.options.payload_limit:
            raise _Reject(413, f"request body of {int(length)} bytes is over the payload limit of {state.options.payload_limit} bytes")

    async def _buffered(self, scope, receive):
        """Read the whole body (at most the payload limit) and replay it to the app."""
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return receive
        limit = self.state.options.payload_limit
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Reject(413, f"request body is over the payload limit of {limit} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


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
