"""An agent's history for charts: its hormone levels and trust over time, and what moved them.

How it is recorded: the beat's ``agent_history`` job (scheduler/jobs.py) samples every agent in
service that is live, and every member, into ``phoenix.agent_history`` once per
``AGENT_HISTORY_SECONDS``, one row per agent and tick, and deletes samples older than
``AGENT_HISTORY_RETENTION_SECONDS``. A sample, not a row per change: a row per change would add a
write to every claim, result, vote and review (the board's hot paths) and to every hormone decay
step, while a chart needs points at a steady rate anyway. The cost is one small INSERT … SELECT per
minute (a row per live agent), and changes between two ticks show as one step. The exact record
of trust is kept regardless: every trust delta is a row of ``agent_interactions``
(:func:`interactions`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from phoenix_board.board import constants, errors, models
from phoenix_board.board.db import Database

PRUNE_BATCH = 10_000  # rows one prune statement deletes; the job repeats until none is left


def sample(db: Database, now: datetime | None = None, period_seconds: float = constants.AGENT_HISTORY_SECONDS,
           retention_seconds: float = constants.AGENT_HISTORY_RETENTION_SECONDS) -> int:
    """The beat job: one sample per live agent and member at this tick (a second run in the same
    tick writes nothing), then the samples past the retention deleted. Returns rows written."""
    written = db.execute("agent_history_sample", period=period_seconds, now=now)
    cutoff = (now or datetime.now(UTC)).timestamp() - retention_seconds
    before = datetime.fromtimestamp(cutoff, UTC)
    while db.execute("agent_history_prune", before=before, batch=PRUNE_BATCH) == PRUNE_BATCH:
        pass
    return written


def _window(since: datetime, until: datetime | None) -> tuple[datetime, datetime, bool]:
    if not isinstance(since, datetime) or since.tzinfo is None:
        raise errors.InvalidInput("since must be a time with its time zone (e.g. 2026-01-01T00:00:00Z)")
    to_now = until is None
    end = datetime.now(UTC) if until is None else until
    if not isinstance(end, datetime) or end.tzinfo is None:
        raise errors.InvalidInput("until must be a time with its time zone")
    if end < since:
        raise errors.InvalidInput(f"until ({end:%Y-%m-%d %H:%M:%S}) is before since ({since:%Y-%m-%d %H:%M:%S})")
    return since, end, to_now


def series(db: Database, agent_id: Any, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
    """The agent's hormones and trust from ``since`` to ``until`` (default: now), oldest first:
    dicts of ``at, dopamine, oxytocin, adrenaline, cortisol, trust``. Samples are averaged into
    buckets so that a range returns at most ``AGENT_HISTORY_POINTS_MAX`` points (one per sample
    for short ranges). With ``until`` left out the last point is the agent's value now."""
    agent = models.uuid_arg(agent_id, "agent")
    start, end, to_now = _window(since, until)
    span = (end - start).total_seconds()
    bucket = max(constants.AGENT_HISTORY_SECONDS, span / constants.AGENT_HISTORY_POINTS_MAX)
    points = db.all("agent_history_series", agent=agent, since=start, until=end, bucket=bucket)
    if to_now:
        current = db.one("agent_history_now", agent=agent, now=None)
        if current is None:
            raise errors.NotFound(f"agent {agent} not found")
        points.append(current)
    return points


def interactions(db: Database, agent_id: Any, since: datetime, until: datetime | None = None,
                 limit: int = 200) -> list[dict[str, Any]]:
    """What moved the agent's trust (and its hormones in a cascade), newest first: ``id, at, kind``
    (outcome, review, consensus, vote, delegation, sync, ...: the reason), ``agent_from,
    from_codename, task_id, task_title, trust_delta, success, hormone_exchange, metadata``."""
    start, end, _ = _window(since, until)
    return db.all("agent_history_interactions", agent=models.uuid_arg(agent_id, "agent"), since=start, until=end,
                  limit=models.whole_arg(limit, "limit", 1, 10_000))


def cascades(db: Database, agent_id: Any, since: datetime, until: datetime | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
    """The hormone cascades the agent took part in, newest first: ``id, kind, hormone, intensity,
    team, task_id, created_at, applied_at, reached, role`` ('source' or 'receiver') and, for a
    receiver, the ``delta`` that reached it and its ``hop``."""
    start, end, _ = _window(since, until)
    return db.all("agent_history_cascades", agent=models.uuid_arg(agent_id, "agent"), since=start, until=end,
                  limit=models.whole_arg(limit, "limit", 1, 10_000))

