"""The exporter's collector: the board's figures (``phoenix_*``), read from PostgreSQL at scrape time.

What each metric is (name, help, labels, buckets) is ``definitions.py``'s; this module only reads
the board and fills them in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeHistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from phoenix_board.board import console, consciousness, errors, replica
from phoenix_board.board.db import Database
from phoenix_board.board.models import UNFINISHED_STATUSES
from phoenix_board.metrics import definitions as m
from phoenix_board.metrics.definitions import HORMONE_BUCKETS, HORMONES, STATUSES, TRUST_BUCKETS

log = logging.getLogger(__name__)


def _gauge_histogram(metric: m.Metric, groups: dict[tuple[str, ...], dict[int, tuple[int, float]]]
                     ) -> GaugeHistogramMetricFamily:
    """groups: label values -> {bucket index (1-based; len(buckets) + 1 above the last bound): (count, sum)}."""
    family, buckets = metric.family(), metric.buckets
    for key, by_bucket in sorted(groups.items()):
        counts, running = [], 0
        for i, bound in enumerate(buckets, start=1):
            running += by_bucket.get(i, (0, 0.0))[0]
            counts.append((str(bound), float(running)))
        counts.append(("+Inf", float(sum(n for n, _ in by_bucket.values()))))
        family.add_metric(list(key), counts, gsum_value=float(sum(total for _, total in by_bucket.values())))
    return family


def _flow_families(gates: list[dict[str, Any]], usage: list[dict[str, Any]],
                   pause_alert_seconds: float | None) -> Iterator[Metric]:
    """Flow control's gauges from gates_list's rows and the usage counters from usage_by_team_model's."""
    paused, exhausted, held = m.FLOW_PAUSED.family(), m.FLOW_BUDGET_EXHAUSTED.family(), m.FLOW_HELD.family()
    for g in gates:
        labels = [g["scope_kind"], g["scope"]]
        if g["paused_at"] is not None:
            paused.add_metric(labels, max(0.0, g["paused_seconds"]))
        if any(g[k] is not None for k in ("budget_hour_cost", "budget_day_cost", "budget_hour_tokens", "budget_day_tokens")):
            exhausted.add_metric(labels, 1 if g["held"] == "budget" else 0)
        for reason in ("paused", "budget", "rate"):
            held.add_metric([*labels, reason], 1 if g["held"] == reason else 0)
    yield from (paused, exhausted, held)
    if pause_alert_seconds is not None:
        yield m.FLOW_PAUSE_ALERT.family(value=pause_alert_seconds)
    tokens, cost = m.USAGE_TOKENS.family(), m.USAGE_COST.family()
    for row in usage:
        tokens.add_metric([row["team"], row["model"], "in"], row["tokens_in"])
        tokens.add_metric([row["team"], row["model"], "out"], row["tokens_out"])
        cost.add_metric([row["team"], row["model"]], float(row["cost"]))
    yield from (tokens, cost)


class BoardCollector(Collector):
    """The board's figures, queried once per scrape (as celery-exporter builds its registry)."""

    def __init__(self, db: Database, queue_depth: Any = None, replica: Database | None = None,
                 pause_alert_seconds: float | None = None) -> None:
        self.db = db
        self.pause_alert_seconds = pause_alert_seconds  # TeamPausedTooLong's threshold, served as a gauge
        self.queue_depth = queue_depth  # () -> {queue: messages}, or None without a broker
        # board figures (tasks, agents, consciousness) come from the replica when there is one;
        # connections, transactions and the beat's and relay's records describe the primary
        self.replica = replica

    def collect(self) -> Iterator[Metric]:
        up = m.EXPORTER_DATABASE_UP.family()
        try:
            yield from self._board()
            up.add_metric([], 1)
        except errors.BoardError as exc:
            log.warning("scrape failed: %s", exc.message)
            up.add_metric([], 0)
        yield up

    def _flow(self) -> Iterator[Metric]:
        gates, usage = self.db.batch([("gates_list", {"kind": None, "scope": None, "now": None}),
                                      ("usage_by_team_model", {})])
        yield from _flow_families(gates, usage, self.pause_alert_seconds)

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
        yield m.DB_CONNECTIONS_ACTIVE.family(value=dbm["connections"])
        yield m.DB_SERVER_CONNECTIONS.family(value=dbm["server_connections"])
        yield m.DB_CONNECTIONS_MAX.family(value=dbm["max_connections"])
        yield m.DB_TRANSACTIONS.family(value=dbm["transactions"] or 0)

        tasks, unfinished, created, completed, failed, claims, attempts, leases, active, registered = (
            d.family() for d in (m.TASKS, m.TASKS_UNFINISHED, m.TASKS_CREATED, m.TASKS_COMPLETED, m.TASKS_FAILED,
                                 m.CLAIMS, m.TASK_ATTEMPTS_FAILED, m.LEASE_EXPIRIES, m.AGENTS_ACTIVE,
                                 m.AGENTS_REGISTERED))
        for row in board:
            team = row["team"]
            by_status = row["by_status"] or {}
            for status in STATUSES:
                tasks.add_metric([team, status], by_status.get(status, 0))
            unfinished.add_metric([team], sum(by_status.get(status.value, 0) for status in UNFINISHED_STATUSES))
            created.add_metric([team], row["created"])
            completed.add_metric([team], row["completed"])
            failed.add_metric([team], row["failed"])
            claims.add_metric([team], row["claims"])
            attempts.add_metric([team], row["attempts_failed"])
            leases.add_metric([team], row["lease_expiries"])
            active.add_metric([team], row["active"])
            registered.add_metric([team], row["registered"])
        yield from (tasks, unfinished, created, completed, failed, claims, attempts, leases, active, registered)

        # a stalled review (docs/concepts/review.md): how long the oldest task in review has waited
        oldest = m.REVIEW_OLDEST.family()
        for row in self.db.all("metrics_review_oldest"):
            oldest.add_metric([row["team"]], row["seconds"])
        yield oldest
        yield from self._flow()

        # the queue's lag (TaskQueueLagging): one index probe per team (board/console.py)
        claimable = m.OLDEST_CLAIMABLE.family()
        for row in console.oldest_claimable(self.db):
            claimable.add_metric([row["team"]], row["seconds"])
        yield claimable

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
        yield _gauge_histogram(m.AGENT_TRUST, trust)
        yield _gauge_histogram(m.AGENT_HORMONE_LEVEL, levels)

        current, coherence, decisions = (d.family() for d in (m.CONSCIOUSNESS_CURRENT, m.TEAM_COHERENCE,
                                                                    m.DECISIONS_PER_SECOND))
        for row in timeline:  # consciousness.latest's rows
            value = row["global_consciousness"] if row["team"] == "global" else row["team_consciousness"]
            current.add_metric([row["team"]], value)
            if row["team_coherence"] is not None:
                coherence.add_metric([row["team"]], row["team_coherence"])
            decisions.add_metric([row["team"]], row["decisions_per_second"])
        yield from (current, coherence, decisions)

        duration, success = m.BEAT_JOB_DURATION.family(), m.BEAT_JOB_LAST_SUCCESS.family()
        for row in beat:
            if row["last_duration_ms"] is not None:
                duration.add_metric([row["job"]], row["last_duration_ms"] / 1000)
            if row["last_success_at"] is not None:
                success.add_metric([row["job"]], row["last_success_at"].timestamp())
        yield from (duration, success)

        # TimescaleDB's own background jobs (retention, refresh), which the beat leaves to it
        job_ok, job_failures, job_success = (d.family() for d in (m.TIMESCALEDB_JOB_OK, m.TIMESCALEDB_JOB_FAILURES,
                                                                    m.TIMESCALEDB_JOB_LAST_SUCCESS))
        for job in consciousness.timescale_jobs(self.db):
            job_ok.add_metric([job["policy"]], 0 if job["last_run_status"] == "Failed" else 1)
            job_failures.add_metric([job["policy"]], job["total_failures"])
            if job["last_successful_finish"] is not None:
                job_success.add_metric([job["policy"]], job["last_successful_finish"].timestamp())
        yield from (job_ok, job_failures, job_success)

        # schedules (docs/concepts/schedules.md): a few rows, one per schedule
        behind, fired, missed = (d.family() for d in (m.SCHEDULE_LAG, m.SCHEDULE_LAST_FIRE, m.SCHEDULE_SLOTS_MISSED))
        for row in self.db.all("metrics_schedules"):
            behind.add_metric([row["name"]], row["lag_seconds"])
            if row["last_fired_at"] is not None:
                fired.add_metric([row["name"]], row["last_fired_at"].timestamp())
            missed.add_metric([row["name"]], row["missed"])
        yield from (behind, fired, missed)

        unpublished, lag = int(relay[0]["unpublished"]), float(relay[0]["lag_seconds"])  # outbox.lag's
        yield m.EVENTS_RELAY_LAG.family(value=lag)
        yield m.EVENTS_UNPUBLISHED.family(value=unpublished)

        if self.replica is not None:
            seconds, behind = replica.lag(self.db, self.replica)
            yield m.DB_REPLICA_LAG_SECONDS.family(value=seconds)
            yield m.DB_REPLICA_LAG_BYTES.family(value=behind)

        if self.queue_depth is not None:
            depth = m.QUEUE_MESSAGES.family()
            try:
                for queue, n in sorted(self.queue_depth().items()):
                    depth.add_metric([queue], n)
                yield depth
            except Exception as exc:  # the broker away must not hide the board's figures
                log.warning("queue depth unavailable: %s", exc)
        yield m.EXPORTER_SCRAPE_DURATION.family(value=time.perf_counter() - t0)
