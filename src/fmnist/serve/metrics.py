"""Prometheus metrics and the access log, as one ASGI middleware around the app.

A registry of the server's own (not the process-wide default), so two servers in one process,
as in tests, count apart. With worker processes, prometheus-client's multiprocess mode: each
process writes its values to files in a shared folder, and /metrics, whichever worker answers
it, sums them all (the gauges over live processes only). Endpoints are labelled by handler,
never by the raw path a client chose, which would let one client grow the label set without
bound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

# A "_created" twin of every series doubles the page for a timestamp nobody here reads.
disable_created_metrics()

ACCESS_LOG = logging.getLogger("fmnist.serve.access")
# Single images take about a millisecond here; a batch of 1,024 CNN images a few hundred.
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    """The server's counters, histogram and gauges in a registry of its own."""

    def __init__(self, shared: Path | None = None) -> None:
        """Metrics of this process alone, or (`shared`: the multiprocess folder) of every
        process writing there; call it in a worker after the fork, before its first count."""
        self.shared = shared
        if shared is not None:
            values.ValueClass = values.MultiProcessValue()  # this process's own files
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fmnist_http_requests",
            "HTTP requests answered",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fmnist_http_request_duration_seconds",
            "Time from request to response",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.grpc_requests = Counter(
            "fmnist_grpc_requests",
            "gRPC calls answered",
            ["method", "code"],
            registry=self.registry,
        )
        self.grpc_latency = Histogram(
            "fmnist_grpc_request_duration_seconds",
            "Time from call to answer",
            ["method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "fmnist_http_requests_in_progress",
            "Requests being answered",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.images = Counter(
            "fmnist_images_inferred", "Images through the model", registry=self.registry
        )
        self.model = Gauge(
            "fmnist_model_info",
            "The model version being served (1; with workers, how many serve it)",
            ["name", "version"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.reloads = Counter(
            "fmnist_model_reloads",
            "Changed model files loaded or refused",
            ["result"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, int | str], tuple] = {}  # HTTP status ints, gRPC code names
        for result in ("loaded", "refused"):  # at 0 from the start, not from the first reload
            self.reloads.labels(result)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """One request answered: counted by endpoint and status, timed by endpoint."""
        key = (endpoint, status)
        if (children := self._children.get(key)) is None:  # labels() costs a lock and a lookup
            children = self.requests.labels(endpoint, str(status)), self.latency.labels(endpoint)
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_grpc(self, method: str, code: str, seconds: float) -> None:
        """One gRPC call answered: counted by method and code, timed by method."""
        key = (method, code)
        if (children := self._children.get(key)) is None:
            children = self.grpc_requests.labels(method, code), self.grpc_latency.labels(method)
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def serving(self, name: str, version: str, previous: str | None = None) -> None:
        """The gauge names the version now served, and only it."""
        if previous is not None:
            self.model.labels(name, previous).set(0)  # what multiprocess files keep of it
            self.model.remove(name, previous)
        self.model.labels(name, version).set(1)

    def _everyone(self) -> CollectorRegistry:
        """This process's registry, or one collecting every process's files."""
        if self.shared is None:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(self.shared))
        return registry

    def exposition(self) -> bytes:
        """Everything, in Prometheus' text format: with workers, every worker's."""
        return generate_latest(self._everyone())

    def requests_answered(self) -> int:
        """HTTP requests and gRPC calls answered so far (with workers, by all of them)."""
        registry = self._everyone()
        names = ("fmnist_http_requests_total", "fmnist_grpc_requests_total")
        return int(
            sum(
                sample.value
                for family in registry.collect()
                for sample in family.samples
                if sample.name in names
            )
        )


def _path(scope: dict) -> str:
    raw = scope.get("raw_path") or scope.get("path", "").encode()
    text = raw.decode("ascii", "backslashreplace")
    return text if len(text) <= 200 else text[:200] + "..."


def observed(app: Callable, metrics: Metrics, quiet: bool) -> Callable:
    """`app` with every HTTP request counted, timed and (unless quiet) logged in one line."""

    async def middleware(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        start, status = time.perf_counter(), [0]

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        metrics.in_progress.inc()
        try:
            await app(scope, receive, sending)
        finally:
            metrics.in_progress.dec()
            elapsed = time.perf_counter() - start
            endpoint = getattr(scope.get("endpoint"), "__name__", "none")
            metrics.observe(endpoint, status[0], elapsed)
            if not quiet:
                client = (scope.get("client") or ("-", 0))[0]
                ACCESS_LOG.info(
                    '%s "%s %s" %d %.1f ms',
                    client,
                    scope["method"],
                    _path(scope),
                    status[0],
                    elapsed * 1000,
                )

    return middleware
