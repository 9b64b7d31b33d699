"""Prometheus metrics of one app, in a registry of its own (several apps may share a process)."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    """Requests, latency, batch sizes, queue depth and tokens, exposed on ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "patscape_requests", "HTTP requests answered", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "patscape_request_seconds", "Time to answer a request", ["route"], buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "patscape_batch_size", "Texts per model call of the batcher", buckets=BATCH_BUCKETS, registry=self.registry
        )
        self.batch_seconds = Histogram(
            "patscape_batch_seconds", "Time of one model call of the batcher", buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge("patscape_queue_depth", "Texts waiting for the model", registry=self.registry)
        self.tokens = Counter("patscape_tokens", "Tokens embedded", ["api"], registry=self.registry)
        self.texts = Counter("patscape_texts", "Texts embedded", ["api"], registry=self.registry)
        self.rejected = Counter(
            "patscape_rejected", "Requests refused before reaching the model", ["reason"], registry=self.registry
        )
        self.model_loaded = Gauge("patscape_model_loaded", "1 once the model is loaded", registry=self.registry)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Wrap ``app``: count and time every HTTP request by its route template (never by raw path)."""

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = [500]

            async def remember(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status[0] = int(message["status"])
                await send(message)

            try:
                await app(scope, receive, remember)
            finally:
                route = scope.get("route")
                path = scope.get("path", "")
                name = getattr(route, "path", None) or ("/static" if path.startswith("/static/") else "unmatched")
                self.requests.labels(name, scope.get("method", ""), str(status[0])).inc()
                self.latency.labels(name).observe(time.perf_counter() - started)

        return timed
