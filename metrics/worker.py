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

# Fed at the transitions agents make: "open" when a task is claimed (from available), "review" when
# a verdict decides it (from its result). A stalled review shows on the board side instead, as
# phoenix_review_oldest_seconds.
STATUS_SECONDS = Histogram("phoenix_task_status_seconds", "Time tasks spent in a status, observed as they leave it.",
                           ["team", "status"], buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400))


VOTES = Counter("phoenix_votes", "Votes (up, down, retract) that agents applied, from the queue and their assessments.",
                ["team"])

# Why a worker turned a message away (docs/operations/running-agents.md): a closed list, so the label stays
# bounded whatever arrives. "requeued" is the one that is not for good: a transient failure (the
# database or the broker away, the soft time limit) put the message back for another delivery.
REJECTION_REASONS = ("invalid", "forbidden", "not_found", "conflict", "refused", "unknown_task", "content_type",
                     "undecodable", "malformed", "too_large", "requeued")
REJECTED = Counter("phoenix_messages_rejected", "Celery messages a worker rejected, by reason (a closed list).",
                   ["reason"])
# the transaction retries of board/db.py, by SQLSTATE's meaning
DB_RETRY_REASONS = {"40P01": "deadlock", "40001": "serialization_failure"}
DB_RETRIES = Counter("phoenix_db_retries", "Statements the agents retried after a deadlock or a serialization failure.",
                     ["reason"])


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
