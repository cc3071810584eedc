"""The server's settings: one typed dataclass, validated before any model loads."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bertkit.errors import UsageError

__all__ = ["ServeOptions", "parse_size", "API_KEY_ENV", "LOCAL_HOSTS"]

API_KEY_ENV = "BERTKIT_API_KEY"  # the API key when --api-key is not given
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")  # always accepted in the Host header

_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


def parse_size(text: str | int) -> int:
    """``2MB`` -> 2000000 bytes; also KB, GB, KiB, MiB, GiB or a plain number of bytes."""
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(text))
        unit = m.group(2).upper() if m else ""
        if m is None or unit not in _UNITS:
            raise UsageError(f"--payload-limit {text!r} is not a size; use e.g. 2MB, 512KB, 1GiB or a number of bytes")
        value = int(float(m.group(1)) * _UNITS[unit])
    if value < 1:
        raise UsageError(f"--payload-limit must be at least 1 byte, got {text!r}")
    return value


@dataclass
class ServeOptions:
    """What ``bertkit serve`` serves and how. ``None`` models: the packaged ones."""

    embed: str | None = None
    classify: str | None = None
    qa: str | None = None
    tag: str | None = None  # a tagger directory for /tag (none is shipped)
    index: str | None = None  # an index directory: /answer without a context retrieves from it (routes_rerank.py)
    rerank: str | None = None  # a reranker directory ("default": the shipped one) for /rerank, /v1/rerank and /answer over the index
    pooling: str = "mean"
    serve_embed: bool = True
    serve_classify: bool = True
    serve_qa: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None
    max_batch_tokens: int = 16384
    max_client_batch_size: int = 64
    max_concurrent_requests: int = 512
    max_queue: int | None = None  # requests waiting per model (None: max_concurrent_requests)
    payload_limit: int = 2_000_000
    body_timeout: float = 10.0  # seconds to receive a whole request body (then 408)
    max_input_tokens: int = 32768  # tokens in one request (more: 413)
    max_embed_all_tokens: int = 8192  # token vectors in one /embed_all answer (more: 413)
    allowed_hosts: tuple[str, ...] = ()  # Host-header names accepted besides the bound host and LOCAL_HOSTS; "*": any
    backend: str = "auto"
    dtype: str = "auto"
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("max_batch_tokens", "max_client_batch_size", "max_concurrent_requests", "max_input_tokens", "max_embed_all_tokens"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.max_queue is not None and self.max_queue < 1:
            raise UsageError(f"--max-queue must be >= 1, got {self.max_queue}")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be 0..65535, got {self.port}")
        self.payload_limit = parse_size(self.payload_limit)
        if not (isinstance(self.body_timeout, (int, float)) and math.isfinite(self.body_timeout) and self.body_timeout > 0):
            raise UsageError(f"--body-timeout must be a finite number of seconds > 0, got {self.body_timeout!r}")
        given = [self.allowed_hosts] if isinstance(self.allowed_hosts, str) else list(self.allowed_hosts)
        self.allowed_hosts = tuple(h.strip().strip("[]").lower().rstrip(".") for item in given for h in item.split(",") if h.strip())
        if not (self.serve_embed or self.serve_classify or self.serve_qa or self.tag):
            raise UsageError("nothing to serve: give --embed, --classify, --qa or --tag (or none of them for the first three)")

    @property
    def hosts(self) -> frozenset[str]:
        """Host-header names the server answers (DNS-rebinding guard): the bound host,
        localhost, 127.0.0.1, ::1 and --allowed-hosts; ``*`` in it accepts any."""
        bound = self.host.strip("[]").lower()
        return frozenset((bound, *LOCAL_HOSTS, *self.allowed_hosts))

    @property
    def queue_limit(self) -> int:
        """Requests that may wait per model before new ones get 429."""
        return self.max_queue if self.max_queue is not None else self.max_concurrent_requests
