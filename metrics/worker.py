"""Metrics that agents' pool processes count themselves. With ``PROMETHEUS_MULTIPROC_DIR`` set
(by ``up``, or by the operator for every worker and the exporter, before they start) they are
written to that directory and the exporter adds them up: counts survive a pool process that
Celery replaces, and a process that exits is marked dead.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Histogram, multiprocess

from phoenix_board.metrics import definitions as m
from phoenix_board.metrics.definitions import DB_RETRY_REASONS, REJECTION_REASONS

# the objects that count, one per row of definitions.py counted by the agents
QUERY_SECONDS = Histogram(m.DB_QUERY_DURATION.name, m.DB_QUERY_DURATION.help, m.DB_QUERY_DURATION.labels,
                          buckets=m.DB_QUERY_DURATION.buckets)
WAKE_SECONDS = Histogram(m.WAKE_LATENCY.name, m.WAKE_LATENCY.help, m.WAKE_LATENCY.labels, buckets=m.WAKE_LATENCY.buckets)
STATUS_SECONDS = Histogram(m.TASK_STATUS_SECONDS.name, m.TASK_STATUS_SECONDS.help, m.TASK_STATUS_SECONDS.labels,
                           buckets=m.TASK_STATUS_SECONDS.buckets)
VOTES = Counter(m.VOTES.name, m.VOTES.help, m.VOTES.labels)
REJECTED = Counter(m.MESSAGES_REJECTED.name, m.MESSAGES_REJECTED.help, m.MESSAGES_REJECTED.labels)
DB_RETRIES = Counter(m.DB_RETRIES.name, m.DB_RETRIES.help, m.DB_RETRIES.labels)


def enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def observe_query(name: str, seconds: float) -> None:
    QUERY_SECONDS.labels(name).observe(seconds)


def observe_wake(team: str, seconds: float) -> None:
    WAKE_SECONDS.labels(team).observe(max(0.0, seconds))


def observe_status(team: str, status: str, seconds: float) -> None:
    STATUS_SECONDS.labels(team, status).observe(max(0.0, seconds))


def count_vote(team: str) -> None:
    VOTES.labels(team).inc()


def count_rejection(reason: str) -> None:
    if reason not in REJECTION_REASONS:  # a programming error: the label must stay bounded
        raise ValueError(f"unknown rejection reason {reason!r}")
    REJECTED.labels(reason).inc()


def count_db_retry(sqlstate: str) -> None:
    DB_RETRIES.labels(DB_RETRY_REASONS.get(sqlstate, "other")).inc()


def use_private_directory(parent: str) -> str:
    """Turns on multiprocess mode for this worker and the pool processes it will fork, in a new
    directory of its own under ``parent``, when the operator set no PROMETHEUS_MULTIPROC_DIR: so
    that a worker host serves its agents' metrics by default (docs/operations/metrics.md). prometheus-client
    chooses how values are stored when it is imported; the labelled metrics above create their
    values on first use, in the pool processes, so switching the value class before the fork is
    enough."""
    import atexit
    import shutil
    import tempfile

    from prometheus_client import values

    os.makedirs(parent, exist_ok=True)
    directory = tempfile.mkdtemp(prefix="worker-metrics-", dir=parent)
    owner = os.getpid()  # forked pool processes inherit the hook: only the worker removes the files
    atexit.register(lambda: os.getpid() == owner and shutil.rmtree(directory, ignore_errors=True))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.get_value_class()
    return directory


def serve(port: int, addr: str = "0.0.0.0"):  # type: ignore[no-untyped-def]
    """Serves this host's (or container's) pool processes' metrics: for worker containers, whose
    PID namespaces would mix files in one shared directory."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return start_http_server(port, addr=addr, registry=registry)


def process_exited(pid: int) -> None:
    if enabled():
        multiprocess.mark_process_dead(pid)
