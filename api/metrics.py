"""The server's own Prometheus metrics, served at its /metrics (a registry per server process;
the board's figures stay with the exporter, metrics/exporter.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "phoenix_api_request_seconds", "GraphQL request duration by operation (type and first root field).",
            ["operation"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
        self.in_flight = Gauge("phoenix_api_requests_in_flight", "HTTP requests being answered.", registry=self.registry)
        self.subscriptions = Gauge("phoenix_api_subscriptions_open", "Open GraphQL subscriptions.",
                                   registry=self.registry)
        self.auth_failures = Counter("phoenix_api_auth_failures_total",
                                     "Requests refused for a missing, unknown, revoked or expired token.",
                                     registry=self.registry)
        self.errors = Counter("phoenix_api_errors_total", "GraphQL errors answered, by extensions.code.", ["code"],
                              registry=self.registry)
        self.limited = Counter("phoenix_api_limited_total", "Requests refused by a limit (rate, body).", ["reason"],
                               registry=self.registry)

    def on_limited(self, reason: str) -> None:
        self.limited.labels(reason).inc()
