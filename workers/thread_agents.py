"""Agents as threads: the agents of ``phoenix-board workers --pool threads --agents N``.

One Celery worker process runs Celery's thread pool with N threads and holds N agents,
``<prefix>-0`` … ``<prefix>-<N-1>``, each with its own row, counters, trust and claims, as a prefork
pool's processes do. Threads, not coroutines, because the agent's work is synchronous code that
blocks: the board's calls (psycopg's pool), Celery's own thread pool, and handlers that wait on the
network; a thread costs its stack pages actually touched (tens of KB), against a prefork process's
tens of MB. Handlers that are coroutines run on the process's one event loop
(``coroutines.py``) while their agent's thread waits.

What the process shares among its agents, so that its costs do not grow with N:

* one connection pool of ``PHOENIX_THREAD_POOL_CONNECTIONS`` connections (10 by default): an agent
  holds a connection for one board call only, never while its handler runs; the idle poller uses
  it too, so the process never opens more;
* one heartbeat thread, one statement per round for all its agents (``heartbeat.py``);
* one lease renewer thread, renewing every claim in hand (``runtime.Renewer``).

The agents are slots (``process_state.agent()``): a wake-up takes a free agent for its work budget
and puts it back. Identity is the pool's, as for prefork: the holder token of
``workers/identity.py``, so a restarted pool (after a SIGKILL too) re-attaches to the same agents
and returns the claims they held at once; a crashed process's claims otherwise come back when
their leases run out (the idle poller of any live pool of the team returns them).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from typing import Any
from uuid import UUID

from celery.signals import worker_init, worker_ready, worker_shutdown

from phoenix_board.board import agents, errors
from phoenix_board.board.db import acting_as
from phoenix_board.board.settings import Settings
from phoenix_board.workers import heartbeat, runtime, signals
from phoenix_board.workers.process_state import (ENV_AGENTS, ENV_HOLDER, ENV_POOL, ENV_PREFIX, ENV_SPECIALIZATION,
                                                 ENV_TEAM, THREADS, agent_database, codename, state)

log = logging.getLogger(__name__)
SHUTDOWN_CONNECT_SECONDS = 5.0
_started: list[str] = []


@worker_init.connect
def _start(**_: Any) -> None:
    if os.environ.get(ENV_POOL) != THREADS or not os.environ.get(ENV_TEAM):
        return
    start(Settings())


def start(settings: Settings) -> None:
    """Attaches this process to its N agents, before the worker takes its first message."""
    team = os.environ[ENV_TEAM]
    n = int(os.environ[ENV_AGENTS])
    holder = UUID(os.environ[ENV_HOLDER])
    spec = json.loads(os.environ.get(ENV_SPECIALIZATION) or "[]")
    db = agent_database(settings, "phoenix-agents", settings.thread_pool_connections)
    renewer = runtime.Renewer(db, settings.lease_seconds, holder)  # one statement a round for all its claims
    loops: list[runtime.AgentLoop] = []
    created = 0
    for i in range(n):
        name = codename(os.environ[ENV_PREFIX], i)
        try:
            agent, new = signals.attach(db, name, team, spec, holder)
        except (errors.Conflict, errors.Forbidden) as exc:
            # another live process holds it, or it was decommissioned: this pool must not run as it
            db.close()
            raise SystemExit(f"agent {name} refused: {exc.message}; this pool stops") from None
        created += new
        loops.append(signals.agent_loop(db, agent, settings, renewer=renewer))
    free: queue.Queue[runtime.AgentLoop] = queue.Queue()
    for loop in loops:
        free.put(loop)
    state.settings, state.db, state.holder = settings, db, holder
    state.loops, state.free = loops, free
    threading.Thread(target=heartbeat.beat_pool_until_stopped,
                     args=(db, [(loop.id, loop.team) for loop in loops], holder, settings),
                     name="phoenix-heartbeat", daemon=True).start()
    # said once the worker's logging is set up (it is not yet at worker_init)
    _started.append(f"{n} thread agents {os.environ[ENV_PREFIX]}-0..{n - 1} on team {team} ({created} registered, "
                    f"{n - created} re-attached), sharing {settings.thread_pool_connections} connections")


@worker_ready.connect
def _say_started(**_: Any) -> None:
    for line in _started:
        log.info("%s", line)


@worker_shutdown.connect
def _stop(**_: Any) -> None:
    """After Celery's pool has stopped (its threads finished the tasks in hand): a last sign of
    life, then the agents' holds freed for the pool's next start."""
    if os.environ.get(ENV_POOL) != THREADS or state.db is None:
        return
    state.stop.set()
    # a call waits this long for a connection now, not the pool's 30 s: a stop is no time to wait
    # out an outage
    state.db.pool.timeout = SHUTDOWN_CONNECT_SECONDS
    reachable = True
    for loop in state.loops:
        loop.renewer.close()
        if not reachable:
            continue
        try:
            with acting_as(loop.id):
                agents.heartbeat(state.db, loop.id, holder=state.holder)
                agents.release(state.db, loop.id, state.holder)
        except errors.Unavailable as exc:
            # each further call would wait out the timeout in turn: a pool of 200 agents stopped
            # during an outage would hang for many minutes. The holds it leaves end with the
            # agents' heartbeats (liveness) and the claims with their leases, as after a crash.
            reachable = False
            log.warning("stopping without releasing %d agents: %s; their holds end when their heartbeats "
                        "go stale", len(state.loops), exc.message)
        except errors.BoardError:
            pass
    state.db.close()
