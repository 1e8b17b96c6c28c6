"""`phoenix-board beat`: Celery beat and a one-process worker for the beat queue, so the periodic
jobs (scheduler/schedule.py) run next to the scheduler, not in the agents' pools."""

from __future__ import annotations

import contextlib
import os

import typer

from phoenix_board.board.session import open_board
from phoenix_board.cli import toolkit
from phoenix_board.scheduler import jobs, schedule
from phoenix_board.workers import broker
from phoenix_board.workers.app import make_app


def beat(loglevel: str = typer.Option("INFO", "--loglevel", "-l")) -> None:
    s = toolkit.settings()
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(open_board(s, max_size=1, wait_for_schema=True))
        url = stack.enter_context(broker.broker_url(s))
        os.environ.update({"PHOENIX_DATABASE_URL": db.url, "PHOENIX_REDIS_URL": url})
        app = make_app(url, s)
        app.conf.include = [*app.conf.include, schedule.__name__]
        app.conf.beat_schedule = schedule.schedule(s)
        schedule_file = s.data_dir.resolve() / "celerybeat-schedule"
        schedule_file.parent.mkdir(parents=True, exist_ok=True)
        app.worker_main(["worker", "--beat", "--schedule", str(schedule_file), "--pool", "solo",
                         "--queues", s.beat_queue(), "--hostname", "beat@%h", "--loglevel", loglevel,
                         "--without-gossip", "--without-mingle", "--without-heartbeat"])


# the help names the jobs from their table, so it cannot miss one
beat.__doc__ = f"Run the beat: the jobs {', '.join(job.name for job in jobs.JOBS)}, each on its own period."
