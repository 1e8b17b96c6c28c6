"""Every metric the exporter serves (``phoenix_*``), read from PostgreSQL at scrape time.

Names follow the seed's list, renamed only where Prometheus conventions require
(docs/operations/metrics.md): counters end in ``_total``, units are in the name. Labels are bounded: team, status,
hormone, beat_job, queue, policy; never a task or an agent (and never ``job`` or ``instance``, which
Prometheus reserves for the target).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from phoenix_board.board import consciousness, errors, replica
from phoenix_board.board.db import Database
from phoenix_board.board.models import UNFINISHED_STATUSES, TaskStatus

log = logging.getLogger(__name__)

# every status of the enum, so a status added to the board is served without editing this file
STATUSES = tuple(s.value for s in TaskStatus)
HORMONES = ("dopamine", "oxytocin", "adrenaline", "cortisol")
TRUST_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
HORMONE_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0)


def _gauge_histogram(name: str, doc: str, labels: list[str], groups: dict[tuple[str, ...], dict[int, tuple[int, float]]],
                     buckets: tuple[float, ...]) -> GaugeHistogramMetricFamily:
    """groups: label values -> {bucket index (1-based; len(buckets) + 1 above the last bound): (count, sum)}."""
    family = GaugeHistogramMetricFamily(name, doc, labels=labels)
    for key, by_bucket in sorted(groups.items()):
        counts, running = [], 0
        for i, bound in enumerate(buckets, start=1):
            running += by_bucket.get(i, (0, 0.0))[0]
            counts.append((str(bound), float(running)))
        counts.append(("+Inf", float(sum(n for n, _ in by_bucket.values()))))
        family.add_metric(list(key), counts, gsum_value=float(sum(total for _, total in by_bucket.values())))
    return family


class BoardCollector(Collector):
    """The board's figures, queried once per scrape (as celery-exporter builds its registry)."""

    def __init__(self, db: Database, queue_depth: Any = None, replica: Database | None = None) -> None:
        self.db = db
        self.queue_depth = queue_depth  # () -> {queue: messages}, or None without a broker
        # board figures (tasks, agents, consciousness) come from the replica when there is one;
        # connections, transactions and the beat's and relay's records describe the primary
        self.replica = replica

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("phoenix_exporter_database_up", "1 when the last scrape could read the board.")
        try:
            yield from self._board()
            up.add_metric([], 1)
        except errors.BoardError as exc:
            log.warning("scrape failed: %s", exc.message)
            up.add_metric([], 0)
        yield up

    def _board(self) -> Iterator[Metric]:
        t0 = time.perf_counter()
        # every read of the scrape in one round trip (a pipeline): each is a few rows whatever the
        # board's size, so on a busy server a scrape's time was mostly waiting for six answers
        reads = [
            ("metrics_board", {}),
            ("metrics_agent_distributions", {"trust_negated": [-b for b in reversed(TRUST_BUCKETS)],
                                             "hormone_negated": [-b for b in reversed(HORMONE_BUCKETS)]}),
            ("timeline_latest", {"now": None}),
        ]
        if self.replica is None:
            _, database, board, distributions, timeline, beat, relay = self.db.batch([
                ("metrics_no_jit", {}), ("metrics_database", {}), *reads, ("beat_runs", {}), ("outbox_lag", {"now": None}),
            ])
        else:  # the board's figures from the replica; the connection and transaction figures describe the primary
            _, database, beat, relay = self.db.batch([
                ("metrics_no_jit", {}), ("metrics_database", {}), ("beat_runs", {}), ("outbox_lag", {"now": None}),
            ])
            _, board, distributions, timeline = self.replica.batch([("metrics_no_jit", {}), *reads])
        dbm = database[0]
        yield GaugeMetricFamily("phoenix_db_connections_active", "Backends connected to the board's database.",
                                value=dbm["connections"])
        yield GaugeMetricFamily("phoenix_db_server_connections",
                                "Client backends connected to the server, every database's (max_connections counts these).",
                                value=dbm["server_connections"])
        yield GaugeMetricFamily("phoenix_db_connections_max", "The server's max_connections.",
                                value=dbm["max_connections"])
        yield CounterMetricFamily("phoenix_db_transactions", "Transactions of the board's database (commits and rollbacks).",
                                  value=dbm["transactions"] or 0)

        tasks = GaugeMetricFamily("phoenix_tasks", "Tasks on the board by team and status.", labels=["team", "status"])
        unfinished = GaugeMetricFamily("phoenix_tasks_unfinished",
                                       "Tasks not yet complete, failed or cancelled, by team.", labels=["team"])
        created = CounterMetricFamily("phoenix_tasks_created", "Tasks submitted.", labels=["team"])
        completed = CounterMetricFamily("phoenix_tasks_completed", "Tasks completed.", labels=["team"])
        failed = CounterMetricFamily("phoenix_tasks_failed", "Tasks failed for good.", labels=["team"])
        claims = CounterMetricFamily("phoenix_claims", "Claims (attempts started).", labels=["team"])
        attempts = CounterMetricFamily("phoenix_task_attempts_failed",
                                       "Failed attempts, expired leases included.", labels=["team"])
        leases = CounterMetricFamily("phoenix_lease_expiries", "Claims whose lease expired.", labels=["team"])
        active = GaugeMetricFamily("phoenix_agents_active", "Agents with a heartbeat in the last 30 s.", labels=["team"])
        registered = GaugeMetricFamily("phoenix_agents_registered", "Agents in service.", labels=["team"])
        for row in board:
            team = row["team"]
            by_status = row["by_status"] or {}
            for status in STATUSES:
                tasks.add_metric([team, status], by_status.get(status, 0))
            unfinished.add_metric([team], sum(by_status.get(status.value, 0) for status in UNFINISHED_STATUSES))
            created.add_metric([team], row["created"])
            completed.add_metric([team], by_status.get("complete", 0))
            failed.add_metric([team], by_status.get("failed", 0))
            claims.add_metric([team], row["claims"])
            attempts.add_metric([team], row["attempts_failed"])
            leases.add_metric([team], row["lease_expiries"])
            active.add_metric([team], row["active"])
            registered.add_metric([team], row["registered"])
        yield from (tasks, unfinished, created, completed, failed, claims, attempts, leases, active, registered)

        # a stalled review (docs/concepts/review.md): how long the oldest task in review has waited
        oldest = GaugeMetricFamily("phoenix_review_oldest_seconds",
                                   "How long the oldest task in review has waited for its verdicts (absent: none).",
                                   labels=["team"])
        for row in self.db.all("metrics_review_oldest"):
            oldest.add_metric([row["team"]], row["seconds"])
        yield oldest

        trust: dict[tuple[str, ...], dict[int, tuple[int, float]]] = {}
        levels: dict[tuple[str, ...], dict[int, tuple[int, float]]] = {}
        for row in distributions:
            if row["measure"] == "trust":
                key, into, bounds = (row["team"],), trust, TRUST_BUCKETS
            elif row["measure"] in HORMONES:
                key, into, bounds = (row["team"], row["measure"]), levels, HORMONE_BUCKETS
            else:
                continue
            # the first bound the value does not exceed (len + 1: above them all, in +Inf only)
            bucket = len(bounds) + 1 - row["bounds_above"]
            into.setdefault(key, {})[bucket] = (row["n"], row["total"])
        yield _gauge_histogram("phoenix_agent_trust", "Agents' trust coefficients by team.", ["team"], trust,
                               TRUST_BUCKETS)
        yield _gauge_histogram("phoenix_agent_hormone_level", "Agents' hormone levels by team.", ["team", "hormone"],
                               levels, HORMONE_BUCKETS)

        current = GaugeMetricFamily("phoenix_consciousness_current",
                                    "Latest consciousness per team; team=\"global\" for the federation.", labels=["team"])
        coherence = GaugeMetricFamily("phoenix_team_coherence", "Latest hormone coherence per team (0-1).",
                                      labels=["team"])
        decisions = GaugeMetricFamily("phoenix_decisions_per_second", "Agents' decisions per second, latest snapshot.",
                                      labels=["team"])
        for row in timeline:  # consciousness.latest's rows
            value = row["global_consciousness"] if row["team"] == "global" else row["team_consciousness"]
            current.add_metric([row["team"]], value)
            if row["team_coherence"] is not None:
                coherence.add_metric([row["team"]], row["team_coherence"])
            decisions.add_metric([row["team"]], row["decisions_per_second"])
        yield from (current, coherence, decisions)

        # the job's name is `beat_job`: `job` is the label Prometheus gives every target, and a series
        # carrying its own would need honor_labels (off by default in the Prometheus Operator)
        duration = GaugeMetricFamily("phoenix_beat_job_duration_seconds", "Duration of each beat job's last run.",
                                     labels=["beat_job"])
        success = GaugeMetricFamily("phoenix_beat_job_last_success_timestamp_seconds",
                                    "When each beat job last succeeded (Unix time).", labels=["beat_job"])
        for row in beat:
            if row["last_duration_ms"] is not None:
                duration.add_metric([row["job"]], row["last_duration_ms"] / 1000)
            if row["last_success_at"] is not None:
                success.add_metric([row["job"]], row["last_success_at"].timestamp())
        yield from (duration, success)

        # TimescaleDB's own background jobs (retention, refresh), which the beat leaves to it
        job_ok = GaugeMetricFamily("phoenix_timescaledb_job_ok",
                                   "1 when a TimescaleDB job's last run succeeded (or it has not run yet), 0 when it failed.",
                                   labels=["policy"])
        job_failures = CounterMetricFamily("phoenix_timescaledb_job_failures", "Failed runs of a TimescaleDB job.",
                                           labels=["policy"])
        job_success = GaugeMetricFamily("phoenix_timescaledb_job_last_success_timestamp_seconds",
                                        "When a TimescaleDB job last succeeded (Unix time).", labels=["policy"])
        for job in consciousness.timescale_jobs(self.db):
            job_ok.add_metric([job["policy"]], 0 if job["last_run_status"] == "Failed" else 1)
            job_failures.add_metric([job["policy"]], job["total_failures"])
            if job["last_successful_finish"] is not None:
                job_success.add_metric([job["policy"]], job["last_successful_finish"].timestamp())
        yield from (job_ok, job_failures, job_success)

        unpublished, lag = int(relay[0]["unpublished"]), float(relay[0]["lag_seconds"])  # outbox.lag's
        yield GaugeMetricFamily("phoenix_events_relay_lag_seconds",
                                "Age of the oldest committed event not yet in its Redis stream (0 when none).",
                                value=lag)
        yield GaugeMetricFamily("phoenix_events_unpublished", "Committed events not yet in their Redis stream.",
                                value=unpublished)

        if self.replica is not None:
            seconds, behind = replica.lag(self.db, self.replica)
            yield GaugeMetricFamily("phoenix_db_replica_lag_seconds",
                                    "How long the read replica is behind the primary (0 when caught up).", value=seconds)
            yield GaugeMetricFamily("phoenix_db_replica_lag_bytes",
                                    "Bytes of the primary's WAL the read replica has not replayed.", value=behind)

        if self.queue_depth is not None:
            depth = GaugeMetricFamily("phoenix_queue_messages", "Messages waiting in a Celery queue.", labels=["queue"])
            try:
                for queue, n in sorted(self.queue_depth().items()):
                    depth.add_metric([queue], n)
                yield depth
            except Exception as exc:  # the broker away must not hide the board's figures
                log.warning("queue depth unavailable: %s", exc)
        yield GaugeMetricFamily("phoenix_exporter_scrape_duration_seconds", "Time to read the board for this scrape.",
                                value=time.perf_counter() - t0)
