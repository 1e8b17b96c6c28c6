"""The beat schedule and its thin Celery tasks (``phoenix-board beat`` is cli/beat.py).

``phoenix-board beat`` runs Celery beat together with a one-process worker that consumes only the
beat queue, so the periodic jobs run next to the scheduler, not in the agents' pools. Two beats
are harmless: each job takes an advisory lock (a second beat skips it) and each job is
idempotent anyway. Periods (``PHOENIX_BEAT_*_SECONDS``) and why:

| job | default | why |
|---|---|---|
| snapshot | 10 s | the consciousness timeline's resolution (the seed's live metrics) |
| lease_sweep | 5 s | a dead agent's task returns within its lease plus this; sleeping teams are re-woken; a task left in review past `REVIEW_EXPIRE_SECONDS` fails with its reason |
| hormone_decay | 30 s | well under the 600 s half-life, so levels read smoothly |
| hormone_cascades | 5 s | an event's cascade reaches partners well inside the 60 s refractory window |
| hot_refresh | 60 s | hot ranks change slowly after the first hours (Lemmy refreshes every 15 min) |
| dashboard_refresh | 60 s | the seed refreshed its dashboard every minute |
| task_counts | 5 s | folds the task counters' deltas, so a scrape reads a few rows whatever the board's size |
| retention | 1 h | deletes a day's worth of old rows at most; TimescaleDB drops chunks itself |
"""

from __future__ import annotations

import functools
import os
from typing import Any

from celery import shared_task
from celery.signals import worker_process_init

from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings
from phoenix_board.scheduler import jobs


JOBS = ("snapshot", "hot_refresh", "lease_sweep", "hormone_decay", "hormone_cascades", "dashboard_refresh", "task_counts",
        "retention")


@functools.cache
def _context() -> tuple[Database, Settings]:
    settings = Settings()
    db = Database(os.environ["PHOENIX_DATABASE_URL"], min_size=1, max_size=3, name="phoenix-beat").open()
    return db, settings


@worker_process_init.connect
def _fresh_after_fork(**_: object) -> None:
    _context.cache_clear()  # connections never cross a fork


def _wake(settings: Settings, team: str) -> None:
    from celery import current_app

    with current_app.connection_for_write() as conn:
        if conn.default_channel.client.llen(settings.team_queue(team)):
            return  # a wake-up is already waiting for that team
    current_app.send_task("phoenix.wake", kwargs={"body": {"team": team}}, queue=settings.team_queue(team))


@shared_task(name="phoenix.beat.snapshot", ignore_result=True)
def snapshot() -> int | None:
    db, s = _context()
    return jobs.run(db, "snapshot", lambda: jobs.snapshot(db, None, s.beat_snapshot_seconds))


@shared_task(name="phoenix.beat.hot_refresh", ignore_result=True)
def hot_refresh() -> int | None:
    db, _ = _context()
    return jobs.run(db, "hot_refresh", lambda: jobs.hot_refresh(db))


@shared_task(name="phoenix.beat.lease_sweep", ignore_result=True)
def lease_sweep() -> int | None:
    db, s = _context()
    return jobs.run(db, "lease_sweep", lambda: jobs.lease_sweep(db, None, functools.partial(_wake, s)))


@shared_task(name="phoenix.beat.hormone_cascades", ignore_result=True)
def hormone_cascades() -> int | None:
    db, _ = _context()
    return jobs.run(db, "hormone_cascades", lambda: jobs.hormone_cascades(db))


@shared_task(name="phoenix.beat.hormone_decay", ignore_result=True)
def hormone_decay() -> int | None:
    db, s = _context()
    return jobs.run(db, "hormone_decay", lambda: jobs.hormone_decay(db, s.hormone_half_life_seconds))


@shared_task(name="phoenix.beat.dashboard_refresh", ignore_result=True)
def dashboard_refresh() -> int | None:
    db, _ = _context()
    return jobs.run(db, "dashboard_refresh", lambda: jobs.dashboard_refresh(db))


@shared_task(name="phoenix.beat.task_counts", ignore_result=True)
def task_counts() -> int | None:
    db, _ = _context()
    return jobs.run(db, "task_counts", lambda: jobs.task_counts(db))


@shared_task(name="phoenix.beat.retention", ignore_result=True)
def retention() -> int | None:
    db, _ = _context()
    return jobs.run(db, "retention", lambda: jobs.retention(db))


def schedule(settings: Settings) -> dict[str, Any]:
    periods = settings.beat_periods()
    queue = settings.beat_queue()
    # a tick that finds the previous one still queued is dropped rather than piled up
    return {job: {"task": f"phoenix.beat.{job}", "schedule": period,
                  "options": {"queue": queue, "expires": period}} for job, period in periods.items()}
