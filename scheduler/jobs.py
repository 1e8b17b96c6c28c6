"""The beat's periodic jobs: ``JOBS``, the one table of them (name, function, period and the
setting that overrides it, why), and the jobs as plain functions ``(db, now, ...) -> count``.

Everything else is derived from the table, as Lemmy's ``scheduled_tasks.rs`` ``setup()`` builds
its scheduler from one list: the beat's schedule and its Celery tasks (``schedule.py``), the
periods' settings (``periods()``; ``PHOENIX_BEAT_<...>_SECONDS``), what ``doctor`` and the live
view judge a job's last run against, and the table in the docs (``docs_table()``). A new job is a
function and a row.

Each job is safe to run twice: the snapshot's key is its tick, refreshes and sweeps are
idempotent, and ``run`` takes a per-job advisory lock so that a second beat skips a job the first
is running. ``run`` also logs and records each run's duration (``phoenix.beat_runs``); a failing
job is logged and the others still run.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import Field, ValidationError, create_model
from pydantic_settings import BaseSettings

from phoenix_board.board import (consciousness, constants, errors, federation, history, hormones, lifecycle, models,
                                 ranking)
from phoenix_board.board.db import Database, queries
from phoenix_board.board.settings import Settings

log = logging.getLogger(__name__)


def lock_key(job: str) -> int:
    return int.from_bytes(hashlib.sha256(f"phoenix_board.beat.{job}".encode()).digest()[:8], "big", signed=True)


def run(db: Database, job: str, fn: Callable[[], int]) -> int | None:
    """Runs one job under its advisory lock; returns its count, or None if skipped or failed."""
    with db.connection() as conn:  # the session that holds the lock for the job's duration
        key = {"key": lock_key(job)}
        if not conn.execute(queries()["beat_try_lock"], key).fetchone()["locked"]:
            log.info("beat job %s: skipped, another beat is running it", job)
            return None
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        error: str | None = None
        result: int | None = None
        try:
            result = fn()
        except errors.BoardError as exc:
            error = exc.message
        except Exception as exc:  # a job's bug must not stop the schedule
            log.exception("beat job %s failed", job)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.execute(queries()["beat_unlock"], key)
        ms = (time.perf_counter() - t0) * 1000
    if error:
        log.error("beat job %s failed after %.1f ms: %s", job, ms, error)
    else:
        log.info("beat job %s: %s in %.1f ms", job, result, ms)
    db.execute("beat_record", job=job, started=started, finished=datetime.now(UTC), ms=ms, result=result,
               error=error[:1000] if error else None)
    return result


def snapshot(db: Database, now: datetime | None = None, period_seconds: float = 10.0) -> int:
    return consciousness.snapshot(db, now, period_seconds)


def hot_refresh(db: Database, now: datetime | None = None) -> int:
    return ranking.refresh_hot_scores(db, now)


def lease_sweep(db: Database, now: datetime | None = None, wake: Callable[[str], None] | None = None) -> int:
    """Expired leases back to the board, and tasks left in review past their deadline ended
    (docs/concepts/review.md): both are deadlines on the board's work. Then the teams with claimable
    work are woken. Returns how many tasks it moved."""
    released = 0
    while batch := lifecycle.release_expired(db, now):
        released += len(batch)
    while ended := lifecycle.review_expire(db, now):
        released += len(ended)
    if wake is not None:
        for row in db.all("teams_with_claimable_work", now=now):
            wake(row["team"])
    return released


def hormone_decay(db: Database, half_life_seconds: float, now: datetime | None = None) -> int:
    return hormones.decay_all(db, half_life_seconds, now)


def hormone_cascades(db: Database, now: datetime | None = None) -> int:
    """Spreads the hormone cascades that events started (docs/concepts/cascades.md)."""
    return federation.run_pending(db, now)


def dashboard_refresh(db: Database) -> int:
    return consciousness.refresh_dashboard(db) + consciousness.refresh_hourly(db)


def task_counts(db: Database) -> int:
    """Folds the task-count deltas the triggers appended (migration 0011), so that a scrape reads
    a few rows whatever the board's size; returns how many deltas were folded."""
    return int(db.one("task_counts_fold")["folded"])


def retention(db: Database, now: datetime | None = None) -> int:
    return consciousness.retention(db, now)


def agent_history(db: Database, now: datetime | None = None,
                  period_seconds: float = constants.AGENT_HISTORY_SECONDS) -> int:
    """Samples live agents' and members' hormones and trust for the charts (board/history.py)."""
    return history.sample(db, now, period_seconds)


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a job is given when the beat runs it."""

    db: Database
    settings: Settings
    periods: dict[str, float]  # every job's period, seconds
    wake: Callable[[str], None] | None = None  # wakes a team's agents (the beat's sender)


@dataclass(frozen=True)
class Job:
    name: str  # the beat_job label, the row in phoenix.beat_runs, the Celery task phoenix.beat.<name>
    fn: Callable[[Context], int]
    seconds: float  # the default period
    setting: str | None  # the settings field (env PHOENIX_<SETTING>) that overrides the period; None: fixed
    why: str  # what it does and why at that period: the table in docs/concepts/beat.md (links relative to it)


JOBS: tuple[Job, ...] = (
    Job("snapshot", lambda c: snapshot(c.db, None, c.periods["snapshot"]), 10.0, "beat_snapshot_seconds",
        "one `consciousness_timeline` row per team and one `global` row: the timeline's resolution (the seed's "
        "live metrics); the key is the tick, so a second beat writes nothing"),
    Job("hot_refresh", lambda c: hot_refresh(c.db), 60.0, "beat_hot_refresh_seconds",
        "hot and active ranks of the 7-day window and of older rows still ranked "
        "(see [Hot rank](ranking.md#hot-rank)); "
        "they change slowly after the first hours (Lemmy refreshes every 15 min)"),
    Job("lease_sweep", lambda c: lease_sweep(c.db, None, c.wake), 5.0, "beat_lease_sweep_seconds",
        "expired leases back to the board (a dead agent's task returns within its lease plus this) and tasks left "
        "in review past `REVIEW_EXPIRE_SECONDS` failed with their reason; teams with claimable work are woken "
        "(one wake-up, only if none is queued)"),
    Job("hormone_decay", lambda c: hormone_decay(c.db, c.settings.hormone_half_life_seconds), 30.0,
        "beat_hormone_decay_seconds",
        "every agent's hormones toward baseline (half-life `PHOENIX_HORMONE_HALF_LIFE_SECONDS`); well under the "
        "600 s half-life, so levels read smoothly"),
    Job("hormone_cascades", lambda c: hormone_cascades(c.db), constants.CASCADE_BEAT_SECONDS, None,
        "spreads the hormone cascades that events started (see [Hormone cascades](cascades.md)): they reach "
        "partners well "
        "inside the 60 s refractory window"),
    Job("dashboard_refresh", lambda c: dashboard_refresh(c.db), 60.0, "beat_dashboard_seconds",
        "`federation_dashboard` (and `consciousness_hourly` when it is a materialized view, not a continuous "
        "aggregate) `REFRESH … CONCURRENTLY`; the seed refreshed its dashboard every minute"),
    Job("task_counts", lambda c: task_counts(c.db), constants.TASK_COUNTS_SECONDS, None,
        "folds the task-count deltas the triggers append into `phoenix.task_counts` "
        "(see [Metrics](../operations/metrics.md#metrics)), "
        "so a scrape reads a few rows whatever the board's size"),
    Job("retention", lambda c: retention(c.db), 3600.0, "beat_retention_seconds",
        "deletes timeline rows older than 30 days, a day's worth at most (TimescaleDB: its retention policy drops "
        "chunks; under the Apache licence the beat drops them)"),
    Job("agent_history", lambda c: agent_history(c.db, None, c.periods["agent_history"]),
        constants.AGENT_HISTORY_SECONDS, "beat_agent_history_seconds",
        "one `agent_history` row per live agent and member (hormones and trust) for the charts of an agent's page, "
        "keyed by the tick so a second beat writes nothing; rows older than 14 days are deleted. Sampled, not "
        "written on every change, so the claim, result and review paths write nothing more"),
)
BY_NAME = {job.name: job for job in JOBS}


class _PeriodSources(BaseSettings):
    # read where and as Settings reads (environment, .env, the user's config file)
    model_config = Settings.model_config
    settings_customise_sources = classmethod(Settings.settings_customise_sources.__func__)  # type: ignore[assignment]


@functools.cache
def period_settings() -> type[BaseSettings]:
    """The periods' settings, one float field per row with a setting (``PHOENIX_BEAT_..._SECONDS``)."""
    fields = {job.setting: (float, Field(default=job.seconds, gt=0, description=f"Period of the beat's {job.name} job (s)."))
              for job in JOBS if job.setting}
    return create_model("BeatPeriods", __base__=_PeriodSources, **fields)  # type: ignore[call-overload]


def periods() -> dict[str, float]:
    """Each job's period in seconds, as configured: the beat's schedule, and what `doctor` and the
    live view judge a job's last run against."""
    try:
        read = period_settings()()
    except ValidationError as exc:
        raise errors.InvalidInput(f"configuration: {models.describe(exc)}") from None
    return {job.name: getattr(read, job.setting) if job.setting else job.seconds for job in JOBS}


def _shown(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 and seconds % 3600 == 0 else f"{seconds:g} s"


def docs_table() -> str:
    """The docs' table of beat jobs (Markdown), generated from ``JOBS``."""
    lines = ["| job | default | setting | what and why |", "|---|---|---|---|"]
    for job in JOBS:
        setting = f"`PHOENIX_{job.setting.upper()}`" if job.setting else "fixed"
        lines.append(f"| `{job.name}` | {_shown(job.seconds)} | {setting} | {job.why} |")
    return "\n".join(lines) + "\n"
