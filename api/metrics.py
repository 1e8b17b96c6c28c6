"""The server's own Prometheus metrics, served at its /metrics (a registry per server process;
the board's figures stay with the exporter, metrics/exporter.py). Their names, help, labels and
buckets are rows of metrics/definitions.py, the one table of every metric."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from phoenix_board.metrics import definitions as m


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.request_seconds = Histogram(m.API_REQUEST_SECONDS.name, m.API_REQUEST_SECONDS.help,
                                         m.API_REQUEST_SECONDS.labels, registry=r, buckets=m.API_REQUEST_SECONDS.buckets)
        self.in_flight = Gauge(m.API_IN_FLIGHT.name, m.API_IN_FLIGHT.help, registry=r)
        self.subscriptions = Gauge(m.API_SUBSCRIPTIONS_OPEN.name, m.API_SUBSCRIPTIONS_OPEN.help, registry=r)
        self.auth_failures = Counter(m.API_AUTH_FAILURES.name, m.API_AUTH_FAILURES.help, registry=r)
        self.errors = Counter(m.API_ERRORS.name, m.API_ERRORS.help, m.API_ERRORS.labels, registry=r)
        self.limited = Counter(m.API_LIMITED.name, m.API_LIMITED.help, m.API_LIMITED.labels, registry=r)

    def on_limited(self, reason: str) -> None:
        self.limited.labels(reason).inc()
