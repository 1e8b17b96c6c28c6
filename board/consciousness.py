"""Consciousness: the federation's health as one number per team, over time
(docs/concepts/beat.md#consciousness). The formulas are ``sql/functions/40_consciousness.sql``; their numbers are in
``constants.py``. Over the active agents (heartbeat within ACTIVE_AGENT_SECONDS):

* trust: the mean of their trust coefficients;
* coherence: ``1 / (1 + mean distance of each agent's hormone vector to the group's mean)``, 1 when
  the agents are in the same state, towards 0 as their states scatter;
* success: the mean of their success rates (1 while none has an outcome);
* consciousness: ``BASE + SPAN * (0.4 trust + 0.3 coherence + 0.3 success)``, in [100, 110]; BASE
  with no active agent. The seed's alert fires below 105.75.
* decisions per second: the agents' claims, results, failures, reviews and votes over the last
  DECISIONS_WINDOW_SECONDS, per second, by the deciding agent's team;
* tasks per hour: tasks completed in the last hour.

The timeline is a TimescaleDB hypertable when the server has TimescaleDB and a plain table
otherwise, under the same names (``sql/migrations/0002_consciousness.sql``). What the beat does for
the rollup and retention follows what the migration made: a plain materialized view is refreshed
here, a continuous aggregate by TimescaleDB's policy; old rows are deleted here unless TimescaleDB's
retention policy drops them (an Apache-licensed TimescaleDB has hypertables but no policies).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from phoenix_board.board import constants, errors
from phoenix_board.board.db import Database

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def tick(now: datetime, period_seconds: float) -> datetime:
    """The snapshot's time key: ``now`` rounded down to the period, so two beats that snapshot
    the same period write the same key and the second writes nothing."""
    step = timedelta(seconds=period_seconds)
    return EPOCH + ((now - EPOCH) // step) * step


def snapshot(db: Database, now: datetime | None = None, period_seconds: float = 10.0) -> int:
    """Writes one timeline row per team and a 'global' row; returns how many were new."""
    clock = now or datetime.now(UTC)
    return db.one("consciousness_snapshot", at=tick(clock, period_seconds), now=clock)["n"]


def latest(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    return db.all("timeline_latest", now=now)


def mode(db: Database) -> dict[str, Any]:
    """'timescaledb' or 'postgresql', with the server's versions, TimescaleDB's licence and whether
    the hourly rollup is a plain materialized view."""
    return db.one("timeline_mode")


def timescale_jobs(db: Database) -> list[dict[str, Any]]:
    """TimescaleDB's background jobs on the board (retention, refresh) and how their runs went; none
    on plain PostgreSQL."""
    if mode(db)["mode"] != "timescaledb":
        return []
    return db.all("timescale_jobs")


def _refresh(db: Database, view: str, populate: str, refresh: str) -> None:
    # CONCURRENTLY keeps readers unblocked but needs a populated view; the first time, fill it
    if not db.one("matview_populated", view=view)["ispopulated"]:
        db.execute(populate)
    else:
        db.execute(refresh)


def refresh_dashboard(db: Database) -> int:
    _refresh(db, "federation_dashboard", "dashboard_populate", "dashboard_refresh")
    return len(db.all("dashboard_rows"))


def refresh_hourly(db: Database) -> int:
    """Refreshes the hourly rollup when it is a materialized view (a continuous aggregate is
    TimescaleDB's refresh policy's, and real-time besides)."""
    if not mode(db)["hourly_matview"]:
        return 0
    _refresh(db, "consciousness_hourly", "hourly_populate", "hourly_refresh")
    return 1


def retention(db: Database, now: datetime | None = None, batch: int = 10_000) -> int:
    """Removes timeline rows older than TIMELINE_RETENTION_DAYS and returns how many, unless
    TimescaleDB's retention policy does it (0 then). A hypertable without the policy loses its
    whole old chunks first; the rest is deleted in batches."""
    hypertable = False
    if mode(db)["mode"] == "timescaledb":
        if any(job["policy"] == "retention" for job in db.all("timescale_jobs")):
            return 0
        hypertable = db.one("timeline_hypertable")["hypertable"]
    cutoff = (now or datetime.now(UTC)) - timedelta(days=constants.TIMELINE_RETENTION_DAYS)
    total = db.one("timeline_old_rows", cutoff=cutoff)["n"]
    if hypertable:
        db.one("timeline_drop_chunks", cutoff=cutoff)
    while db.execute("timeline_retention", cutoff=cutoff, batch=batch) > 0:
        pass
    return total


# longer ranges than this read the hourly rollup: a 10 s snapshot makes 8,640 rows a day per team
RAW_RANGE_MAX = timedelta(hours=6)
RANGE_ROWS_MAX = 10_000


def history(db: Database, start: datetime, end: datetime, team: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The timeline between two times for charts: ('raw', snapshots) for ranges up to
    RAW_RANGE_MAX, else ('hourly', the hourly rollup's rows); at most RANGE_ROWS_MAX rows."""
    if end <= start:
        raise errors.InvalidInput(f"the range must end after it starts ({start.isoformat()} .. {end.isoformat()})")
    if end - start <= RAW_RANGE_MAX:
        return "raw", db.all("timeline_range", start=start, end=end, team=team, limit=RANGE_ROWS_MAX)
    if mode(db)["hourly_matview"] and not db.one("matview_populated", view="consciousness_hourly")["ispopulated"]:
        return "hourly", []  # the beat has not filled the rollup yet
    return "hourly", db.all("timeline_hourly_range", start=start, end=end, team=team, limit=RANGE_ROWS_MAX)


def dashboard(db: Database) -> list[dict[str, Any]]:
    return db.all("dashboard_rows")
