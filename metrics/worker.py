"""Metrics that agents' pool processes count themselves. With ``PROMETHEUS_MULTIPROC_DIR`` set
(by ``up``, or by the operator for every worker and the exporter, before they start) they are
written to that directory and the exporter adds them up: counts survive a pool process that
Celery replaces, and a process that exits is marked dead.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Histogram, multiprocess

QUERY_SECONDS = Histogram("phoenix_db_query_duration_seconds", "Duration of the board's named queries, as agents see it.",
                          ["query"], buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
WAKE_SECONDS = Histogram("phoenix_wake_latency_seconds", "From a task becoming available to its claim.",
                         ["team"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))


VOTES = Counter("phoenix_votes", "Votes (up, down, retract) that agents applied, from the queue and their assessments.",
                ["team"])


def enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def observe_query(name: str, seconds: float) -> None:
    QUERY_SECONDS.labels(name).observe(seconds)


def observe_wake(team: str, seconds: float) -> None:
    WAKE_SECONDS.labels(team).observe(max(0.0, seconds))


def count_vote(team: str) -> None:
    VOTES.labels(team).inc()


def use_private_directory(parent: str) -> str:
    """Turns on multiprocess mode for this worker and the pool processes it will fork, in a new
    directory of its own under ``parent``, when the operator set no PROMETHEUS_MULTIPROC_DIR: so
    that a worker host serves its agents' metrics by default (README "Metrics"). prometheus-client
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
