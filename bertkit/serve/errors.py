"""Every error as JSON, never a traceback.

Routes answer ``{"error": message, "error_type": kind}`` (text-embeddings-inference's
shape); ``/v1/...`` routes answer OpenAI's ``{"error": {"message", "type", "param",
"code"}}``. An unexpected failure is logged with a request id and answered 500 with
that id (by the middleware in limits.py); the server keeps serving.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bertkit.errors import BertkitError
from bertkit.serve.batching import QueueFull

__all__ = ["ApiError", "error_body", "error_response", "install_error_handlers", "new_request_id", "logger"]

logger = logging.getLogger("bertkit.serve")

KINDS = {400: "Empty", 401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed", 408: "Timeout", 413: "PayloadTooLarge", 421: "MisdirectedRequest",
         422: "Validation", 429: "Overloaded", 500: "Backend", 503: "Unhealthy"}
OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error", 405: "invalid_request_error",
                408: "invalid_request_error", 413: "invalid_request_error", 421: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error", 500: "server_error", 503: "server_error"}


class ApiError(Exception):
    """An HTTP error with a one-line message."""

    def __init__(self, status: int, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind or KINDS.get(status, "Error")


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def error_body(path: str, status: int, message: str, kind: str | None = None) -> dict:
    kind = kind or KINDS.get(status, "Error")
    if path.startswith("/v1/"):
        return {"error": {"message": message, "type": OPENAI_TYPES.get(status, "invalid_request_error"), "param": None, "code": kind}}
    return {"error": message, "error_type": kind}


def error_response(path: str, status: int, message: str, kind: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(path, status, message, kind), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """pydantic's errors as one line that names the field: ``inputs: got int 3; expected str or list[str]``."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return f"malformed JSON: {first.get('ctx', {}).get('error', first.get('msg'))}"
    fields: dict[str, list[dict]] = {}
    for e in errors:  # a union reports one error per branch, its name in the location
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        fields.setdefault(loc[0] if loc else "body", []).append(e)
    field, errs = next(iter(fields.items()))
    more = f" (and {len(fields) - 1} more fields)" if len(fields) > 1 else ""
    if field == "body" and first.get("type") in ("model_attributes_type", "dict_type", "missing"):
        return f"the request body must be a JSON object (Content-Type: application/json){more}"
    if len(errs) == 1:
        path = ".".join(p for p in map(str, errs[0].get("loc", ())) if p != "body" and not _is_branch(p))
        return f"{path}: {errs[0].get('msg', 'invalid value')}{more}"
    value = errs[0].get("input")  # the str branch reports the whole value
    branches = sorted({str(e["loc"][2]) for e in errs if len(e.get("loc", ())) > 2 and _is_branch(str(e["loc"][2]))})
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return f"{field}: got {type(value).__name__} {shown}; expected {' or '.join(branches) or 'another type'}{more}"


def _is_branch(part: str) -> bool:
    """A union branch name in a pydantic error location (``str``, ``list[str]``), not a field."""
    return part in ("str", "int", "float", "bool", "none") or "[" in part or part.startswith(("function-", "literal"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return error_response(request.url.path, exc.status, exc.message, exc.kind)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return error_response(request.url.path, 422, _validation_message(exc))

    @app.exception_handler(QueueFull)
    async def _full(request: Request, exc: QueueFull):
        return error_response(request.url.path, 429, str(exc), headers={"Retry-After": "1"})

    @app.exception_handler(BertkitError)
    async def _user(request: Request, exc: BertkitError):  # the library refused the input
        return error_response(request.url.path, 422, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else str(exc.status_code)
        if exc.status_code == 400 and "parsing the body" in message:  # FastAPI's own body parser: still malformed JSON
            return error_response(request.url.path, 422, "malformed JSON: the body could not be parsed")
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs"
        return error_response(request.url.path, exc.status_code, message, headers=getattr(exc, "headers", None))
