"""The idle poller, a bootstep of the worker's main process: every ``idle_poll_seconds`` it returns
expired leases to the board and, when claimable tasks or reviews wait with no wake-up queued, wakes
agents, so a lost wake-up (a broker restart) only delays work."""

from __future__ import annotations

import logging
import os

from celery import bootsteps

from phoenix_board.board import lifecycle
from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings
from phoenix_board.workers import sending
from phoenix_board.workers.process_state import ENV_POOL, ENV_TEAM, THREADS, agent_database, state

log = logging.getLogger(__name__)


class IdlePoller(bootsteps.StartStopStep):
    """In the worker's main process: sweep expired leases, wake agents for unannounced work."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: object, **kwargs: object) -> None:
        self.tref = None
        self.db: Database | None = None

    def start(self, worker) -> None:  # type: ignore[no-untyped-def]
        team = os.environ.get(ENV_TEAM)
        if not team:
            return
        settings = Settings()
        # a thread pool's process polls with its agents' connection pool (thread_agents.py): no more connections
        self.db = None if os.environ.get(ENV_POOL) == THREADS else agent_database(settings, "phoenix-poller", 1)
        self.tref = worker.timer.call_repeatedly(settings.idle_poll_seconds, self._poll,
                                                 (worker, settings, team), priority=10)

    def stop(self, worker) -> None:  # type: ignore[no-untyped-def]
        if self.tref is not None:
            self.tref.cancel()
        if self.db is not None:
            self.db.close()

    def _poll(self, worker, settings: Settings, team: str) -> None:  # type: ignore[no-untyped-def]
        db = self.db or state.db
        if db is None:
            return
        try:
            released = lifecycle.release_expired(db)
            waiting = db.one("tasks_claimable_count", team=team)["n"]  # a count; no rows to see
            # reviews are claimable work too (docs/concepts/review.md): a lost review request is found here
            reviews = db.one("reviews_claimable_count", team=team)["n"]
            # Any agent may take a task, but only some may take a review (not its executor, not one
            # that has judged it): a wake-up for one review may keep landing on an agent that cannot
            # use it, so while reviews wait every pool process is woken, each checking for itself.
            # (a thread pool's concurrency is its number of agents, as a prefork pool's is)
            wakes = worker.concurrency if reviews else min(waiting, worker.concurrency)
            if waiting or reviews:
                sending.wake_team(worker.app, settings, team, wakes, only_if_idle=True)
            if released:
                log.info("returned %d expired claim(s) to the board", len(released))
        except Exception:  # a poll that fails must not stop the worker; the next one tries again
            log.exception("idle poll failed")
