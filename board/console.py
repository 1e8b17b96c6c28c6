"""The operations console's figures (docs/operations/console.md): what an operator looks at to see
whether the board keeps up, each a function of its own and all of them at once (:func:`figures`).

Each figure reads an index or a kept count (sql/queries/console.sql), so the console costs the same
on a board of a million tasks. The board package knows neither the beat's schedule nor Prometheus
(DESIGN.md, "the direction of imports"): the caller passes the jobs' periods and a reader of the
alerts that fire, as the web console, the API and the command line do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from phoenix_board.board import agents, constants, errors, health, inputs, members, models
from phoenix_board.board.db import Database

_SPAN = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
SPAN_MAX = timedelta(days=90)


def parse_since(text: str | None, now: datetime | None = None) -> datetime:
    """'1h', '30m', '2d', '1w', '900s' before now, or an ISO 8601 time with its zone -> the moment;
    None: the console's window (1 h). Every command's ``--since`` reads it, so all take both forms."""
    now = now or datetime.now(UTC)
    if text is None:
        return now - timedelta(seconds=constants.CONSOLE_WINDOW_SECONDS)
    match = _SPAN.match(text)
    if not match:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
        raise errors.InvalidInput(f"since {inputs.shown(text[:40])} is neither a duration (a number and s, m, h, d or "
                                  "w, e.g. 1h) nor an ISO 8601 time with its zone (e.g. 2026-12-01T12:00:00Z)")
    span = timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])
    if not timedelta(0) < span <= SPAN_MAX:
        raise errors.InvalidInput(f"since {text!r} must be more than 0 and at most 90d")
    return now - span


def _since(since: datetime | None, now: datetime | None) -> datetime:
    if since is None:
        return (now or datetime.now(UTC)) - timedelta(seconds=constants.CONSOLE_WINDOW_SECONDS)
    if not isinstance(since, datetime) or since.tzinfo is None:
        raise errors.InvalidInput("since must be a time with its time zone")
    return since


def depth(db: Database, team: str | None = None) -> list[dict[str, Any]]:
    """Tasks per team and status (rows of ``team, status, n``; statuses with none left out)."""
    return db.all("console_depth", team=team)


def oldest_claimable(db: Database, team: str | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per team: the oldest task claimable now (``task_id``, ``available_at``) and ``seconds`` it has
    been claimable (since its submission or its retry's backoff ended); 0 and no task when none is.
    What ``phoenix_task_oldest_claimable_seconds`` exports and TaskQueueLagging watches."""
    return db.all("console_oldest_claimable", team=team, now=now)


def time_in_status(db: Database, since: datetime | None = None, team: str | None = None,
                   now: datetime | None = None) -> list[dict[str, Any]]:
    """How long tasks stayed in each status they entered since ``since`` (default: the last hour),
    from the task history: per status ``stays, running`` (still there), ``mean_seconds,
    p50_seconds, p95_seconds, max_seconds``; a stay still running counts up to now."""
    return db.all("console_time_in_status", since=_since(since, now), team=team, now=now)


def failures(db: Database, since: datetime | None = None, team: str | None = None, limit: int = 50,
             now: datetime | None = None) -> list[dict[str, Any]]:
    """Failed attempts since ``since`` (default: the last hour) grouped by reason, most first (the
    dead-letter view): ``reason, attempts, final`` (that failed their task for good), ``tasks, teams,
    kinds`` (failed, lease_expired, rejected, released, review_expired, dependency_failed),
    ``last_at, latest_task``."""
    return db.all("console_failures", since=_since(since, now), team=team, now=now,
                  limit=models.whole_arg(limit, "limit", 1, 1000))


def stalled_reviews(db: Database, team: str | None = None, limit: int = 50,
                    now: datetime | None = None) -> list[dict[str, Any]]:
    """Tasks in review for longer than REVIEW_STALLED_SECONDS (the ReviewStalled threshold), oldest
    first: ``id, title, team, category, attempt, quorum, review_since, waited_seconds, verdicts``.
    Tasks that ask for a person are in :func:`members.waiting` instead."""
    return db.all("console_stalled_reviews", team=team, now=now, stalled=constants.REVIEW_STALLED_SECONDS,
                  limit=models.whole_arg(limit, "limit", 1, 1000))


def beat_jobs(db: Database, periods: Mapping[str, float] | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every beat job's last run (``phoenix.beat_runs``: ``job, runs, last_started_at,
    last_success_at, last_duration_ms, last_error``) with its ``state`` (ok, failing, stale; the
    rule of board/health.py). ``periods`` (scheduler.jobs.periods()) names the jobs that should
    run: one that never ran is listed as stale."""
    runs = {r["job"]: dict(r) for r in db.all("beat_runs")}
    for job in periods or {}:
        runs.setdefault(job, {"job": job, "runs": 0, "last_started_at": None, "last_success_at": None,
                              "last_duration_ms": None, "last_result": None, "last_error": None})
    rows = []
    for job, run in sorted(runs.items()):
        period = None if periods is None else periods.get(job)
        rows.append({**run, "period_seconds": period, "state": health.job_state(run, period, now)})
    return rows


def relay_lag(db: Database, now: datetime | None = None) -> dict[str, Any]:
    """The event relay's lag: ``unpublished`` events in the outbox and ``lag_seconds``, the age of
    the oldest (0 when none waits)."""
    return db.one("outbox_lag", now=now)


def host_of(codename: str, team: str) -> str:
    """The host an agent runs on, read from its codename: a pool names its agents
    ``<team>.<host>[.N]-<i>`` (workers/identity.py); a codename given with ``--name`` is its own
    prefix (``<prefix>-<i>`` -> ``<prefix>``)."""
    base = re.sub(r"-\d+$", "", codename)
    if base.startswith(team + "."):
        return re.sub(r"\.\d+$", "", base[len(team) + 1:]) or base
    return base


def agents_by_host(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """Agents in service per host: ``host, live, dead`` and the dead ones' codenames (judged by
    board/health.py, as every view judges them). Members are people, not counted."""
    by_host: dict[str, dict[str, Any]] = {}
    for agent in agents.list_agents(db, limit=100_000):
        state = health.agent_state(agent, now)
        row = by_host.setdefault(host_of(agent.codename, agent.team), {"live": 0, "dead": 0, "dead_agents": []})
        if state == "live":
            row["live"] += 1
        elif state == "dead":
            row["dead"] += 1
            row["dead_agents"].append(agent.codename)
    return [{"host": host, **row} for host, row in sorted(by_host.items())]


def figures(db: Database, *, since: datetime | None = None, team: str | None = None,
            periods: Mapping[str, float] | None = None,
            alerts: Callable[[], list[dict[str, Any]]] | None = None,
            now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the console, as one dict: ``depth, oldest_claimable, time_in_status,
    failures, stalled_reviews, waiting_for_people, beat_jobs, relay, alerts, agents_by_host``,
    and ``since`` (the window of the failures and time in status). ``alerts`` reads what fires
    (metrics.alerting.active); its result is ``None`` when no reader is given and a one-line
    ``alerts_error`` when it failed, so an unreachable Prometheus never hides the rest."""
    start = _since(since, now)
    out: dict[str, Any] = {
        "since": start,
        "depth": depth(db, team),
        "oldest_claimable": oldest_claimable(db, team, now),
        "time_in_status": time_in_status(db, start, team, now),
        "failures": failures(db, start, team, now=now),
        "stalled_reviews": stalled_reviews(db, team, now=now),
        "waiting_for_people": members.waiting(db, team, now=now),
        "beat_jobs": beat_jobs(db, periods, now),
        "relay": relay_lag(db, now),
        "agents_by_host": agents_by_host(db, now),
        "alerts": None,
        "alerts_error": None,
    }
    if alerts is not None:
        try:
            out["alerts"] = alerts()
        except errors.BoardError as exc:
            out["alerts_error"] = exc.message
    return out
