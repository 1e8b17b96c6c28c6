"""What a worker's process knows about itself: the environment ``phoenix-board workers`` gives it,
and the agents it runs as.

With ``--pool prefork`` a pool process is one agent, ``<prefix>-<pool index>`` (set up by
``signals.py`` when Celery starts it). With ``--pool threads`` the worker's one process holds all
its agents, ``<prefix>-0`` … ``<prefix>-<n-1>``, as slots (``thread_agents.py``): a message that
needs an agent takes a free one for its duration (``agent()``). The entry points (``tasks.py``)
read the agent, the board connection and the settings from here.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from collections.abc import Iterator
from uuid import UUID

from phoenix_board.board import errors, migrate
from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings
from phoenix_board.workers import delivery, runtime

# Set by `phoenix-board workers` in the environment of the worker, inherited by its pool processes.
ENV_TEAM = "PHOENIX_AGENT_TEAM"
ENV_PREFIX = "PHOENIX_AGENT_PREFIX"
ENV_SPECIALIZATION = "PHOENIX_AGENT_SPECIALIZATION"
ENV_DATABASE = "PHOENIX_DATABASE_URL"
ENV_HOLDER = "PHOENIX_AGENT_HOLDER"  # the pool's holder token (workers/identity.py)
ENV_POOL = "PHOENIX_AGENT_POOL"  # "prefork" (an agent per process) or "threads" (thread_agents.py)
ENV_AGENTS = "PHOENIX_AGENT_COUNT"  # how many agents the worker runs
THREADS = "threads"
# a message that needs an agent waits this long for one of its thread pool's agents to be free
# (there are as many agents as Celery threads, so one is free unless the process is stopping)
FREE_AGENT_WAIT_SECONDS = 10.0

# what the worker's main process sends its pool processes at a warm shutdown (signals.py)
STOP_SIGNAL = signal.SIGUSR2


class _Process:
    loop: runtime.AgentLoop | None = None  # in a prefork pool process: the agent it runs as, working
    loops: list[runtime.AgentLoop] = []  # in a thread pool's process: all its agents
    free: queue.Queue[runtime.AgentLoop] | None = None  # ... and those not handling a message now
    holder: UUID | None = None
    db: Database | None = None
    settings: Settings | None = None
    stop = threading.Event()


state = _Process()


def current() -> runtime.AgentLoop:
    if state.loop is None:
        raise errors.Unavailable("this process is not an agent (no worker_process_init ran)")
    return state.loop


def is_agent() -> bool:
    """This process acts as one agent or more (a pool's process, not the beat's)."""
    return state.loop is not None or bool(state.loops)


@contextlib.contextmanager
def agent() -> Iterator[runtime.AgentLoop]:
    """The agent that handles a message: the process's own (prefork), or a free one of its thread
    pool, taken for the message's duration (first in, first out, so work spreads over the agents)."""
    if state.free is None:
        yield current()
        return
    try:
        loop = state.free.get(timeout=FREE_AGENT_WAIT_SECONDS)
    except queue.Empty:
        raise errors.Unavailable("no agent of this thread pool is free") from None
    try:
        yield loop
    finally:
        state.free.put(loop)


def codename(prefix: str, index: int) -> str:
    return f"{prefix}-{index}"


def agent_database(settings: Settings, name: str, size: int) -> Database:
    """Pool processes and the poller work as the agent role (docs/concepts/security.md)."""
    role = migrate.role_names(settings.role_prefix)["agent"]
    # a call gives up on an unreachable database after DB_WAIT_SECONDS, so that a held message's
    # attempts fit inside its time limit (delivery.py)
    return Database(os.environ[ENV_DATABASE], min_size=1, max_size=size, name=name, role=role,
                    timeout=delivery.DB_WAIT_SECONDS, pooled=settings.database_pooled).open()
