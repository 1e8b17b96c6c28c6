"""Every metric Phoenix Board serves, in one table: name, kind, help, labels (and buckets).

The exporter's collector (``collectors.py``) and the agents' own counters (``worker.py``) build
their metric objects from these rows, and the monitoring stack's tests read the same rows as the
contract that alert rules and dashboards may use. A new metric is one row here plus the code that
feeds it.

Names follow the seed's list, renamed only where Prometheus conventions require
(docs/operations/metrics.md): counters end in ``_total`` (prometheus-client adds it to the names below), units
are in the name. Labels are bounded: team, status, hormone, beat_job, queue, policy, query, reason, schedule;
never a task or an agent (and never ``job`` or ``instance``, which Prometheus reserves for the
target). Where a label's values are a closed list, the list is derived from its source of truth
(``LABEL_VALUES``): a status added to the board's enum is served without editing this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily

from phoenix_board.board.hormones import HORMONES
from phoenix_board.board.models import TaskStatus

Kind = Literal["gauge", "counter", "histogram", "gauge_histogram"]

# every status of the enum, so a status added to the board is served without editing this file
STATUSES = tuple(s.value for s in TaskStatus)

# Why a worker turned a message away (docs/operations/running-agents.md, "Celery messages"): a closed
# list, so the label stays bounded whatever arrives. "requeued" is the one that is not for good: a transient failure (the
# database or the broker away, the soft time limit) put the message back for another delivery.
REJECTION_REASONS = ("invalid", "forbidden", "not_found", "conflict", "refused", "unknown_task", "content_type",
                     "undecodable", "malformed", "too_large", "requeued")
# the transaction retries of board/db.py, by SQLSTATE's meaning ("other" for any else)
DB_RETRY_REASONS = {"40P01": "deadlock", "40001": "serialization_failure"}

# label -> its closed list of values, from the board's own definitions; the other labels take
# names the board holds as rows (team, beat_job, policy, query, queue, schedule) or the lists above (reason)
LABEL_VALUES: dict[str, tuple[str, ...]] = {"status": STATUSES, "hormone": HORMONES}

TRUST_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
HORMONE_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0)


@dataclass(frozen=True)
class Metric:
    name: str  # without the `_total` prometheus-client gives counters
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    by: Literal["exporter", "agents", "api"] = "exporter"  # who counts it: the scrape's queries, the pool processes, or the API server

    def family(self, **kwargs: Any) -> Any:
        """An empty metric family of this row, for a collector to fill (``value=`` for one unlabelled sample)."""
        make = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily,
                "gauge_histogram": GaugeHistogramMetricFamily}[self.kind]
        if self.labels:
            kwargs["labels"] = list(self.labels)
        return make(self.name, self.help, **kwargs)

    def exposed(self) -> set[str]:
        """The series names Prometheus stores for this metric."""
        return {"counter": {f"{self.name}_total"}, "gauge": {self.name},
                "histogram": {self.name + s for s in ("_bucket", "_sum", "_count")},
                "gauge_histogram": {self.name + s for s in ("_bucket", "_gsum", "_gcount")}}[self.kind]


def _m(name: str, kind: Kind, help: str, *labels: str, **extra: Any) -> Metric:
    return Metric(name, kind, help, tuple(labels), **extra)


# --- read from PostgreSQL at every scrape (collectors.py) ---------------------------------------
EXPORTER_DATABASE_UP = _m("phoenix_exporter_database_up", "gauge", "1 when the last scrape could read the board.")
DB_CONNECTIONS_ACTIVE = _m("phoenix_db_connections_active", "gauge", "Client backends connected to the board's database.")
DB_SERVER_CONNECTIONS = _m("phoenix_db_server_connections", "gauge",
                           "Client backends connected to the server, every database's (max_connections counts these).")
DB_CONNECTIONS_MAX = _m("phoenix_db_connections_max", "gauge", "The server's max_connections.")
DB_TRANSACTIONS = _m("phoenix_db_transactions", "counter", "Transactions of the board's database (commits and rollbacks).")
TASKS = _m("phoenix_tasks", "gauge", "Tasks on the board by team and status.", "team", "status")
TASKS_UNFINISHED = _m("phoenix_tasks_unfinished", "gauge", "Tasks not yet complete, failed or cancelled, by team.", "team")
TASKS_CREATED = _m("phoenix_tasks_created", "counter", "Tasks submitted.", "team")
TASKS_COMPLETED = _m("phoenix_tasks_completed", "counter", "Tasks completed.", "team")
TASKS_FAILED = _m("phoenix_tasks_failed", "counter", "Tasks failed for good.", "team")
CLAIMS = _m("phoenix_claims", "counter", "Claims (attempts started).", "team")
TASK_ATTEMPTS_FAILED = _m("phoenix_task_attempts_failed", "counter", "Failed attempts, expired leases included.", "team")
LEASE_EXPIRIES = _m("phoenix_lease_expiries", "counter", "Claims whose lease expired.", "team")
AGENTS_ACTIVE = _m("phoenix_agents_active", "gauge", "Agents with a heartbeat in the last 30 s.", "team")
AGENTS_REGISTERED = _m("phoenix_agents_registered", "gauge", "Agents in service.", "team")
REVIEW_OLDEST = _m("phoenix_review_oldest_seconds", "gauge",
                   "How long the oldest task in review has waited for its verdicts (absent: none).", "team")
OLDEST_CLAIMABLE = _m("phoenix_task_oldest_claimable_seconds", "gauge",
                      "How long the team's oldest claimable task has waited to be claimed (0: none waits).", "team")
# flow control (docs/concepts/flow-control.md): gates per team or category, usage per team and model
FLOW_PAUSED = _m("phoenix_flow_paused_seconds", "gauge",
                 "How long a team or category has been paused (absent: not paused).", "scope_kind", "scope")
FLOW_PAUSE_ALERT = _m("phoenix_flow_pause_alert_seconds", "gauge",
                      "The setting past which a paused team fires TeamPausedTooLong (PHOENIX_PAUSE_ALERT_SECONDS).")
FLOW_BUDGET_EXHAUSTED = _m("phoenix_flow_budget_exhausted", "gauge",
                           "1 while a team's or category's hour or day budget is spent (its claims stop), else 0.",
                           "scope_kind", "scope")
FLOW_HELD = _m("phoenix_flow_held", "gauge",
               "1 while a gate holds claims of a team or category back, by why: paused, budget or rate.",
               "scope_kind", "scope", "reason")
USAGE_TOKENS = _m("phoenix_usage_tokens", "counter", "Tokens results reported, by team, model and direction (in, out).",
                  "team", "model", "direction")
USAGE_COST = _m("phoenix_usage_cost", "counter", "Cost results reported, by team and model.", "team", "model")
AGENT_TRUST = _m("phoenix_agent_trust", "gauge_histogram", "Agents' trust coefficients by team.", "team",
                 buckets=TRUST_BUCKETS)
AGENT_HORMONE_LEVEL = _m("phoenix_agent_hormone_level", "gauge_histogram", "Agents' hormone levels by team.",
                         "team", "hormone", buckets=HORMONE_BUCKETS)
CONSCIOUSNESS_CURRENT = _m("phoenix_consciousness_current", "gauge",
                           "Latest consciousness per team; team=\"global\" for the federation.", "team")
TEAM_COHERENCE = _m("phoenix_team_coherence", "gauge", "Latest hormone coherence per team (0-1).", "team")
DECISIONS_PER_SECOND = _m("phoenix_decisions_per_second", "gauge", "Agents' decisions per second, latest snapshot.",
                          "team")
# the job's label is `beat_job`: `job` is the label Prometheus gives every target, and a series
# carrying its own would need honor_labels (off by default in the Prometheus Operator)
BEAT_JOB_DURATION = _m("phoenix_beat_job_duration_seconds", "gauge", "Duration of each beat job's last run.",
                       "beat_job")
BEAT_JOB_LAST_SUCCESS = _m("phoenix_beat_job_last_success_timestamp_seconds", "gauge",
                           "When each beat job last succeeded (Unix time).", "beat_job")
TIMESCALEDB_JOB_OK = _m("phoenix_timescaledb_job_ok", "gauge",
                        "1 when a TimescaleDB job's last run succeeded (or it has not run yet), 0 when it failed.",
                        "policy")
TIMESCALEDB_JOB_FAILURES = _m("phoenix_timescaledb_job_failures", "counter", "Failed runs of a TimescaleDB job.",
                              "policy")
TIMESCALEDB_JOB_LAST_SUCCESS = _m("phoenix_timescaledb_job_last_success_timestamp_seconds", "gauge",
                                  "When a TimescaleDB job last succeeded (Unix time).", "policy")
EVENTS_RELAY_LAG = _m("phoenix_events_relay_lag_seconds", "gauge",
                      "Age of the oldest committed event not yet in its Redis stream (0 when none).")
EVENTS_UNPUBLISHED = _m("phoenix_events_unpublished", "gauge", "Committed events not yet in their Redis stream.")
DB_REPLICA_LAG_SECONDS = _m("phoenix_db_replica_lag_seconds", "gauge",
                            "How long the read replica is behind the primary (0 when caught up).")
DB_REPLICA_LAG_BYTES = _m("phoenix_db_replica_lag_bytes", "gauge",
                          "Bytes of the primary's WAL the read replica has not replayed.")
# one series per schedule: operators add schedules by hand, a few dozen at most (docs/concepts/schedules.md)
SCHEDULE_LAG = _m("phoenix_schedule_lag_seconds", "gauge",
                  "How long a live schedule's earliest due slot has waited unfired (0 when none is due or it is "
                  "paused).", "schedule")
SCHEDULE_LAST_FIRE = _m("phoenix_schedule_last_fire_timestamp_seconds", "gauge",
                        "When the beat last fired one of the schedule's slots (Unix time).", "schedule")
SCHEDULE_SLOTS_MISSED = _m("phoenix_schedule_slots_missed", "counter",
                           "Slots the schedule's catch-up policy passed over after the beat was away.", "schedule")
QUEUE_MESSAGES = _m("phoenix_queue_messages", "gauge", "Messages waiting in a Celery queue.", "queue")
EXPORTER_SCRAPE_DURATION = _m("phoenix_exporter_scrape_duration_seconds", "gauge",
                              "Time to read the board for this scrape.")

# --- counted by the agents' pool processes (worker.py), added up by the exporter -----------------
DB_QUERY_DURATION = _m("phoenix_db_query_duration_seconds", "histogram",
                       "Duration of the board's named queries, as agents see it.", "query",
                       buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0), by="agents")
WAKE_LATENCY = _m("phoenix_wake_latency_seconds", "histogram", "From a task becoming available to its claim.", "team",
                  buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), by="agents")
# Fed at the transitions agents make: "open" when a task is claimed (from available), "review" when
# a verdict decides it (from its result). A stalled review shows on the board side instead, as
# phoenix_review_oldest_seconds.
TASK_STATUS_SECONDS = _m("phoenix_task_status_seconds", "histogram",
                         "Time tasks spent in a status, observed as they leave it.", "team", "status",
                         buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400), by="agents")
VOTES = _m("phoenix_votes", "counter",
           "Votes (up, down, retract) that agents applied, from the queue and their assessments.", "team", by="agents")
MESSAGES_REJECTED = _m("phoenix_messages_rejected", "counter",
                       "Celery messages a worker rejected, by reason (a closed list).", "reason", by="agents")
DB_RETRIES = _m("phoenix_db_retries", "counter",
                "Statements the agents retried after a deadlock or a serialization failure.", "reason", by="agents")

# --- counted by each HTTP API server (`phoenix-board serve`, api/metrics.py), served at its own /metrics
API_REQUEST_SECONDS = _m("phoenix_api_request_seconds", "histogram",
                         "GraphQL request duration by operation (type and first root field).", "operation",
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
                         by="api")
API_IN_FLIGHT = _m("phoenix_api_requests_in_flight", "gauge", "HTTP requests being answered.", by="api")
API_SUBSCRIPTIONS_OPEN = _m("phoenix_api_subscriptions_open", "gauge", "Open GraphQL subscriptions.", by="api")
API_AUTH_FAILURES = _m("phoenix_api_auth_failures", "counter",
                       "Requests refused for a missing, unknown, revoked or expired token.", by="api")
API_ERRORS = _m("phoenix_api_errors", "counter", "GraphQL errors answered, by extensions.code.", "code", by="api")
API_LIMITED = _m("phoenix_api_limited", "counter", "Requests refused by a limit (rate, body).", "reason", by="api")

# every row above, in the order written (a module's globals keep it): the list tests and docs read
METRICS: tuple[Metric, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Metric))
