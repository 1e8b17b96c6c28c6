"""The beat's periodic jobs as plain functions ``(db, now, ...) -> count``, each safe to run twice:
the snapshot's key is its tick, refreshes and sweeps are idempotent, and ``run`` takes a
per-job advisory lock so that a second beat skips a job the first is running. ``run`` also logs
and records each run's duration (``phoenix.beat_runs``); a failing job is logged and the others
still run.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from phoenix_board.board import consciousness, errors, federation, hormones, lifecycle, ranking
from phoenix_board.board.db import Database, queries

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
