"""Checks every request passes before any route sees it, whatever the route.

- :func:`host_allowed`: the ``Host`` header names this server (a guard against DNS
  rebinding: a web page whose domain was re-pointed at 127.0.0.1 sends its own name).
- :func:`parse_json_body`: a JSON body is strict UTF-8, well formed, at most
  :data:`MAX_JSON_DEPTH` levels deep, holds only finite numbers (no ``NaN``,
  ``Infinity`` or ``1e999``) and only valid Unicode text (no lone surrogates such as
  ``"\\ud800"``). A refusal is a :class:`BodyError` whose message names the field.

Routes added later (search, rerank, ...) get the same guarantees without code of their own.
"""

from __future__ import annotations

import ipaddress
import json
import math

__all__ = ["BodyError", "MAX_JSON_DEPTH", "host_allowed", "host_name", "is_json", "parse_json_body"]

MAX_JSON_DEPTH = 32  # nesting levels of arrays/objects in a request body
WILDCARD_BINDS = ("0.0.0.0", "::", "")


class BodyError(Exception):
    """A request body refused with 422; the message is one line naming the field."""


def host_name(header: str) -> str:
    """``Example.COM:8080`` -> ``example.com``; ``[::1]:80`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    name, sep, port = header.rpartition(":")
    return (name if sep and port.isdigit() and ":" not in name else header).rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(header: str, hosts: frozenset[str], bound: str) -> bool:
    """Whether a request with this ``Host`` header may be answered.

    Allowed: a name in ``hosts`` (``*`` allows any; ``.example.com`` allows that domain and
    its subdomains), and any IP address when the server is bound to every interface (a
    rebinding page always sends its domain name, never an address). No header: allowed
    (HTTP/1.0 clients; browsers always send one).
    """
    if not header or "*" in hosts:
        return True
    name = host_name(header)
    if name in hosts or any(h.startswith(".") and (name.endswith(h) or name == h[1:]) for h in hosts):
        return True
    return bound.strip("[]") in WILDCARD_BINDS and _is_ip(name)


def is_json(content_type: str) -> bool:
    """Whether FastAPI would parse a body of this Content-Type as JSON (none counts)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return not kind or kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _where(path: str) -> str:
    return path or "the request body"


def _check_text(text: str, path: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise BodyError(f"{_where(path)}: a lone surrogate (U+{code:04X}) at character {exc.start} is not valid text; "
                        "send valid Unicode (escape astral characters as a surrogate pair)") from None


def _check_tree(value) -> None:
    """Depth, finiteness and surrogates, walked without recursion."""
    stack = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, float):
            if not math.isfinite(item):
                shown = "NaN" if item != item else ("Infinity" if item > 0 else "-Infinity")
                raise BodyError(f"{_where(path)}: {shown} is not a finite number")
        elif isinstance(item, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise BodyError(f"malformed JSON: {_where(path)} is nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, path)
                    stack.append((child, f"{path}.{key}" if path else key, depth + 1))
            else:
                stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))


def parse_json_body(body: bytes):
    """The parsed body, or a :class:`BodyError` (invalid UTF-8, malformed, too deep,
    non-finite numbers, lone surrogates)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"malformed JSON: the body is not valid UTF-8 (byte {exc.start}); JSON must be UTF-8") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BodyError(f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise BodyError(f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    _check_tree(value)
    return value
