"""Per-process set-up and tear-down of an agent.

Each prefork pool process is one agent. When Celery starts it (``worker_process_init``: after the
fork, so the process opens its own connections) it registers, or re-attaches to, the agent
``<prefix>-<pool index>``: a process that Celery replaces gets the same index and so the same
identity, counters and trust. A claim its predecessor held is released at once (a failed attempt,
fenced by its attempt number) instead of waiting for the lease. It holds the agent with the pool's
token (``PHOENIX_AGENT_HOLDER``, workers/identity.py): the database refuses another live process
attaching to it, the heartbeat renews the hold, a clean exit frees it. A heartbeat thread keeps
``last_heartbeat`` fresh. On a clean shutdown the agent goes idle; shutdown hooks may not run
(SIGKILL), and leases and heartbeats cover that.

The worker's main process runs :class:`IdlePoller`: every ``idle_poll_seconds`` it returns expired
leases to the board and, when claimable tasks wait with no wake-up queued, wakes agents, so a lost
wake-up (a broker restart) only delays work.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from datetime import UTC, datetime
from uuid import UUID


import psutil
import redis
from billiard import current_process
from celery import bootsteps
from celery.signals import worker_process_init, worker_process_shutdown, worker_shutting_down

from phoenix_board.board import agents, errors, lifecycle, migrate, models
from phoenix_board.board.db import Database, acting_as
from phoenix_board.board.settings import Settings
from phoenix_board.metrics import worker as worker_metrics
from phoenix_board.workers import broker, delivery, runtime, stream

log = logging.getLogger(__name__)

# Set by `phoenix-board workers` in the environment of the worker, inherited by its pool processes.
ENV_TEAM = "PHOENIX_AGENT_TEAM"
ENV_PREFIX = "PHOENIX_AGENT_PREFIX"
ENV_SPECIALIZATION = "PHOENIX_AGENT_SPECIALIZATION"
ENV_DATABASE = "PHOENIX_DATABASE_URL"
ENV_HOLDER = "PHOENIX_AGENT_HOLDER"  # the pool's holder token (workers/identity.py)


class _Process:
    agent: runtime.Agent | None = None
    holder: UUID | None = None
    db: Database | None = None
    settings: Settings | None = None
    stop = threading.Event()


state = _Process()


STOP_SIGNAL = signal.SIGUSR2


@worker_shutting_down.connect
def _tell_agents_to_stop(**_: object) -> None:
    """In the main process: a warm shutdown waits for running tasks, and a woken agent would keep
    claiming for its whole budget; tell the pool processes to stop after the task in hand."""
    if not os.environ.get(ENV_TEAM):
        return
    for child in psutil.Process().children():
        try:
            child.send_signal(STOP_SIGNAL)
        except psutil.Error:
            pass


def current() -> runtime.Agent:
    if state.agent is None:
        raise errors.Unavailable("this process is not an agent (no worker_process_init ran)")
    return state.agent


def codename(prefix: str, index: int) -> str:
    return f"{prefix}-{index}"


@worker_process_init.connect
def _init_agent(**_: object) -> None:
    try:
        _start_agent()
    except Exception as exc:  # noqa: BLE001 - whatever stopped it, this process is no agent
        # A process that is no agent would still take messages and fail them (a board message
        # failed so is acknowledged: lost). Leave, and let Celery start another that tries again.
        log.error("pool process exits: its agent could not start: %s", errors.one_line(f"{type(exc).__name__}: {exc}"))
        os._exit(1)


def _start_agent() -> None:
    team = os.environ.get(ENV_TEAM)
    if not team:
        return  # not started by `phoenix-board workers`
    settings = Settings()
    db = agent_database(settings, "phoenix-agent", 3)
    spec = json.loads(os.environ.get(ENV_SPECIALIZATION) or "[]")
    name = codename(os.environ[ENV_PREFIX], current_process().index)
    holder = UUID(os.environ[ENV_HOLDER]) if os.environ.get(ENV_HOLDER) else None
    existing = db.one("agent_by_codename", codename=name)
    try:
        # re-attaching acts for that agent, which the agent role must name (docs/concepts/security.md)
        with acting_as(existing["id"] if existing else None):
            agent, created = agents.register(db, {"codename": name, "team": team, "specialization": spec}, holder=holder)
    except (errors.Conflict, errors.Forbidden) as exc:
        # another live process holds it (a race the pool's start-up check did not see), or it was
        # decommissioned: this pool must not run as it; one line, and the whole pool stops
        log.error("agent %s refused: %s; stopping this pool", name, exc.message)
        db.close()
        os.kill(os.getppid(), signal.SIGTERM)
        return
    if not created and agent.current_task is not None:
        with acting_as(agent.id):
            _release_predecessor_claim(db, agent.id, agent.current_task)
    from phoenix_board.workers import tasks  # the review requests go through the queue

    on_claim = on_decided = None
    if worker_metrics.enabled():  # the exporter adds up every process's counts
        db.observe = worker_metrics.observe_query
        db.on_retry = worker_metrics.count_db_retry
        on_claim = _observe_claim
        on_decided = _observe_decided
    state.settings, state.db, state.holder = settings, db, holder
    state.agent = runtime.Agent(db, agent, settings.lease_seconds, on_review=tasks.request_reviews,
                                stopping=state.stop.is_set, on_claim=on_claim,
                                on_delegate=tasks.wake_for_children, on_decided=on_decided)
    # the main process sends STOP_SIGNAL at a warm shutdown: finish the task in hand, claim no more
    signal.signal(STOP_SIGNAL, lambda *_: state.stop.set())
    threading.Thread(target=_heartbeat, args=(db, agent.id, agent.team, settings),
                     name="phoenix-heartbeat", daemon=True).start()
    log.info("agent %s (%s) %s on team %s", name, agent.id, "registered" if created else "re-attached", team)


def _observe_claim(task: models.Task) -> None:
    waited = (task.claimed_at - task.available_at).total_seconds()
    worker_metrics.observe_wake(task.team, waited)
    worker_metrics.observe_status(task.team, "open", waited)


def _observe_decided(task: models.Task) -> None:
    if task.review_since is not None:
        end = task.completed_at or datetime.now(UTC)  # a reopened task has no completion time
        worker_metrics.observe_status(task.team, "review", (end - task.review_since).total_seconds())


def _release_predecessor_claim(db: Database, agent_id: UUID, task_id: UUID) -> None:
    task = lifecycle.get(db, task_id)
    if task.assigned_to != agent_id or task.status not in ("claimed", "in_progress"):
        return
    try:
        lifecycle.fail(db, task.id, agent_id, task.attempt, "pool process replaced while working")
    except errors.Conflict:
        pass  # it moved on meanwhile (lease expired, released)


def agent_database(settings: Settings, name: str, size: int) -> Database:
    """Pool processes and the poller work as the agent role (docs/concepts/security.md)."""
    role = migrate.role_names(settings.role_prefix)["agent"]
    # a call gives up on an unreachable database after DB_WAIT_SECONDS, so that a held message's
    # attempts fit inside its time limit (delivery.py)
    return Database(os.environ[ENV_DATABASE], min_size=1, max_size=size, name=name, role=role,
                    timeout=delivery.DB_WAIT_SECONDS).open()


def _heartbeat(db: Database, agent_id: UUID, team: str, settings: Settings) -> None:
    url = settings.redis_url or broker.running_embedded(settings.data_dir)
    streams = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) if url else None
    with acting_as(agent_id):
        while not state.stop.wait(settings.heartbeat_seconds):
            try:
                agents.heartbeat(db, agent_id, holder=state.holder)
            except errors.Conflict as exc:  # its hold lapsed and another process took the agent
                log.error("heartbeat refused: %s; this process claims no more", exc.message)
                state.stop.set()
                return
            except errors.BoardError as exc:
                log.warning("heartbeat failed: %s", exc.message)
                continue
            if streams is not None:
                try:
                    stream.publish_heartbeat(streams, agent_id, team)
                except redis.RedisError as exc:  # the stream's copy is best effort; PostgreSQL has it
                    log.debug("heartbeat not published: %s", exc)


@worker_process_shutdown.connect
def _shutdown_agent(**_: object) -> None:
    state.stop.set()
    if state.agent is not None:
        state.agent.close()
    if state.db is not None:
        try:
            with acting_as(state.agent.id):
                agents.heartbeat(state.db, state.agent.id, holder=state.holder)  # last sign of life
                if state.holder is not None:  # a clean exit frees the agent for the pool's next start
                    agents.release(state.db, state.agent.id, state.holder)
        except errors.BoardError:
            pass
        state.db.close()
    worker_metrics.process_exited(os.getpid())


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
        self.db = agent_database(settings, "phoenix-poller", 1)
        self.tref = worker.timer.call_repeatedly(settings.idle_poll_seconds, self._poll,
                                                 (worker, settings, team), priority=10)

    def stop(self, worker) -> None:  # type: ignore[no-untyped-def]
        if self.tref is not None:
            self.tref.cancel()
        if self.db is not None:
            self.db.close()

    def _poll(self, worker, settings: Settings, team: str) -> None:  # type: ignore[no-untyped-def]
        from phoenix_board.workers import tasks

        try:
            released = lifecycle.release_expired(self.db)
            waiting = self.db.one("tasks_claimable_count", team=team)["n"]  # a count; no rows to see
            # reviews are claimable work too (docs/concepts/review.md): a lost review request is found here
            waiting += self.db.one("reviews_claimable_count", team=team)["n"]
            if waiting:
                tasks.wake_team(worker.app, settings, team, min(waiting, worker.concurrency), only_if_idle=True)
            if released:
                log.info("returned %d expired claim(s) to the board", len(released))
        except Exception:  # a poll that fails must not stop the worker; the next one tries again
            log.exception("idle poll failed")
