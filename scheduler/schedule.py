"""The beat schedule and its thin Celery tasks, both built from the jobs' table
(``jobs.JOBS``: names, periods and why); the ``phoenix-board beat`` command is cli/beat.py.

``phoenix-board beat`` runs Celery beat together with a one-process worker that consumes only the
beat queue, so the periodic jobs run next to the scheduler, not in the agents' pools. Two beats
are harmless: each job takes an advisory lock (a second beat skips it) and each job is
idempotent anyway.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from celery import Task, current_app, shared_task
from celery.signals import worker_process_init

from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings
from phoenix_board.scheduler import jobs
from phoenix_board.workers import sending  # a leaf: the beat imports nothing else of the workers


@functools.cache
def _context() -> jobs.Context:
    settings = Settings()
    db = Database(os.environ["PHOENIX_DATABASE_URL"], min_size=1, max_size=3, name="phoenix-beat").open()
    wake = functools.partial(sending.wake_team, current_app, settings, n=1, only_if_idle=True)
    return jobs.Context(db, settings, jobs.periods(), wake)


@worker_process_init.connect
def _fresh_after_fork(**_: object) -> None:
    _context.cache_clear()  # connections never cross a fork


def task_name(job: str) -> str:
    return f"phoenix.beat.{job}"


def _task(job: jobs.Job) -> Task:
    def run() -> int | None:
        context = _context()
        return jobs.run(context.db, job.name, lambda: job.fn(context))

    run.__name__ = run.__qualname__ = job.name
    run.__doc__ = job.why
    return shared_task(name=task_name(job.name), ignore_result=True)(run)


# one Celery task per row of the table, phoenix.beat.<job>
TASKS: dict[str, Task] = {job.name: _task(job) for job in jobs.JOBS}


def schedule(settings: Settings) -> dict[str, Any]:
    """Celery beat's schedule: every job of the table on its configured period, on the beat's queue."""
    periods = jobs.periods()
    queue = settings.beat_queue()
    # a tick that finds the previous one still queued is dropped rather than piled up
    return {job.name: {"task": task_name(job.name), "schedule": periods[job.name],
                       "options": {"queue": queue, "expires": periods[job.name]}} for job in jobs.JOBS}
