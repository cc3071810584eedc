"""Prometheus metrics of one app, in the app's own registry (never the process-global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["Metrics", "CONTENT_TYPE_LATEST"]

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_TOKENS = (16, 64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class Metrics:
    """Request counts and durations per route, queue/inference durations, batch sizes and
    tokens per model, queue depth and requests in flight; all names start with ``bertkit_``."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("bertkit_requests", "HTTP requests by route and status code", ["route", "status"], registry=r)
        self.request_seconds = Histogram("bertkit_request_duration_seconds", "Time from request to response", ["route"], buckets=_SECONDS, registry=r)
        self.queue_seconds = Histogram("bertkit_queue_duration_seconds", "Time a request waited for its batch", ["model"], buckets=_SECONDS, registry=r)
        self.inference_seconds = Histogram("bertkit_inference_duration_seconds", "Time of one merged batch in the engine", ["model"], buckets=_SECONDS, registry=r)
        self.batch_size = Histogram("bertkit_batch_size", "Texts per merged batch", ["model"], buckets=_SIZES, registry=r)
        self.batch_tokens = Histogram("bertkit_batch_tokens", "Tokens per merged batch", ["model"], buckets=_TOKENS, registry=r)
        self.queue_depth = Gauge("bertkit_queue_depth", "Requests waiting for a batch", ["model"], registry=r)
        self.in_flight = Gauge("bertkit_requests_in_flight", "Requests being served", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
