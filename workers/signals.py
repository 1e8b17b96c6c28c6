"""Celery's signals for an agent's process: its start and its stop.

Each prefork pool process is one agent (a thread pool's agents start in ``thread_agents.py``,
which shares ``attach`` and ``agent_loop`` below). When Celery starts it (``worker_process_init``: after the
fork, so the process opens its own connections) it registers, or re-attaches to, the agent
``<prefix>-<pool index>``: a process that Celery replaces gets the same index and so the same
identity, counters and trust. A claim its predecessor held is released at once (a failed attempt,
fenced by its attempt number) instead of waiting for the lease. It holds the agent with the pool's
token (``PHOENIX_AGENT_HOLDER``, workers/identity.py): the database refuses another live process
attaching to it, the heartbeat (``heartbeat.py``) renews the hold, a clean exit frees it. On a
clean shutdown the agent goes idle; shutdown hooks may not run (SIGKILL), and leases and
heartbeats cover that. What the process knows about itself is ``process_state.py``'s; the worker's
main process runs the idle poller (``idle_poller.py``).
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
from billiard import current_process
from celery import current_app
from celery.signals import worker_process_init, worker_process_shutdown, worker_shutting_down

from phoenix_board.board import agents, errors, lifecycle, models
from phoenix_board.board.db import Database, acting_as
from phoenix_board.board.settings import Settings
from phoenix_board.metrics import worker as worker_metrics
from phoenix_board.workers import heartbeat, runtime, sending
from phoenix_board.workers.process_state import (ENV_HOLDER, ENV_POOL, ENV_PREFIX, ENV_SPECIALIZATION, ENV_TEAM,
                                                 STOP_SIGNAL, THREADS, agent_database, codename, state)

log = logging.getLogger(__name__)


@worker_shutting_down.connect
def _tell_agents_to_stop(**_: object) -> None:
    """In the main process: a warm shutdown waits for running tasks, and a woken agent would keep
    claiming for its whole budget; tell the pool processes to stop after the task in hand."""
    if not os.environ.get(ENV_TEAM):
        return
    state.stop.set()  # a thread pool's agents live in this process (thread_agents.py)
    if os.environ.get(ENV_POOL) == THREADS:
        return
    for child in psutil.Process().children():
        try:
            child.send_signal(STOP_SIGNAL)
        except psutil.Error:
            pass


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
    if not team or os.environ.get(ENV_POOL) == THREADS:
        return  # not started by `phoenix-board workers`, or its agents are threads (thread_agents.py)
    settings = Settings()
    db = agent_database(settings, "phoenix-agent", 3)
    spec = json.loads(os.environ.get(ENV_SPECIALIZATION) or "[]")
    name = codename(os.environ[ENV_PREFIX], current_process().index)
    holder = UUID(os.environ[ENV_HOLDER]) if os.environ.get(ENV_HOLDER) else None
    try:
        agent, created = attach(db, name, team, spec, holder)
    except (errors.Conflict, errors.Forbidden) as exc:
        # another live process holds it (a race the pool's start-up check did not see), or it was
        # decommissioned: this pool must not run as it; one line, and the whole pool stops
        log.error("agent %s refused: %s; stopping this pool", name, exc.message)
        db.close()
        os.kill(os.getppid(), signal.SIGTERM)
        return
    state.settings, state.db, state.holder = settings, db, holder
    state.loop = agent_loop(db, agent, settings)
    # the main process sends STOP_SIGNAL at a warm shutdown: finish the task in hand, claim no more
    signal.signal(STOP_SIGNAL, lambda *_: state.stop.set())
    threading.Thread(target=heartbeat.beat_until_stopped, args=(db, agent.id, agent.team, settings),
                     name="phoenix-heartbeat", daemon=True).start()
    log.info("agent %s (%s) %s on team %s", name, agent.id, "registered" if created else "re-attached", team)


def attach(db: Database, name: str, team: str, spec: list[str], holder: UUID | None) -> tuple[models.Agent, bool]:
    """Registers the agent ``name``, or re-attaches to it, held with ``holder``; a claim its
    predecessor (a replaced process) held goes back to the board at once. Conflict or Forbidden
    when this process may not act as it. -> (the agent, whether it was created)."""
    existing = db.one("agent_by_codename", codename=name)
    # re-attaching acts for that agent, which the agent role must name (docs/concepts/security.md)
    with acting_as(existing["id"] if existing else None):
        agent, created = agents.register(db, {"codename": name, "team": team, "specialization": spec}, holder=holder)
    if not created and agent.current_task is not None:
        with acting_as(agent.id):
            _release_predecessor_claim(db, agent.id, agent.current_task)
    return agent, created


def agent_loop(db: Database, agent: models.Agent, settings: Settings,
               renewer: runtime.Renewer | None = None) -> runtime.AgentLoop:
    """The loop an agent runs when woken, with this process's metrics and messages."""
    on_claim = on_decided = None
    if worker_metrics.enabled():  # the exporter adds up every process's counts
        db.observe = worker_metrics.observe_query
        db.on_retry = worker_metrics.count_db_retry
        on_claim = _observe_claim
        on_decided = _observe_decided
    # the requests an agent's work leads to go through the queue, with the worker's app
    return runtime.AgentLoop(
        db, agent, settings.lease_seconds, stopping=state.stop.is_set, on_claim=on_claim, on_decided=on_decided,
        on_review=lambda task: sending.request_reviews(current_app, settings, db, task),
        on_delegate=lambda parent: sending.wake_for_children(current_app, settings, parent), renewer=renewer)


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


@worker_process_shutdown.connect
def _shutdown_agent(**_: object) -> None:
    state.stop.set()
    if state.loop is not None:
        state.loop.close()
    if state.db is not None:
        try:
            with acting_as(state.loop.id):
                agents.heartbeat(state.db, state.loop.id, holder=state.holder)  # last sign of life
                if state.holder is not None:  # a clean exit frees the agent for the pool's next start
                    agents.release(state.db, state.loop.id, state.holder)
        except errors.BoardError:
            pass
        state.db.close()
    worker_metrics.process_exited(os.getpid())
