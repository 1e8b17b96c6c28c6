"""What a worker's process knows about itself: the environment ``phoenix-board workers`` gives it,
and, in a pool process, the agent it runs as (set up by ``signals.py`` when Celery starts it).

A pool process is one agent, ``<prefix>-<pool index>``; its entry points (``tasks.py``) read the
agent, its board connection and the settings from ``state``.
"""

from __future__ import annotations

import os
import signal
import threading
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

# what the worker's main process sends its pool processes at a warm shutdown (signals.py)
STOP_SIGNAL = signal.SIGUSR2


class _Process:
    loop: runtime.AgentLoop | None = None  # in a pool process: the agent it runs as, working
    holder: UUID | None = None
    db: Database | None = None
    settings: Settings | None = None
    stop = threading.Event()


state = _Process()


def current() -> runtime.AgentLoop:
    if state.loop is None:
        raise errors.Unavailable("this process is not an agent (no worker_process_init ran)")
    return state.loop


def codename(prefix: str, index: int) -> str:
    return f"{prefix}-{index}"


def agent_database(settings: Settings, name: str, size: int) -> Database:
    """Pool processes and the poller work as the agent role (docs/concepts/security.md)."""
    role = migrate.role_names(settings.role_prefix)["agent"]
    # a call gives up on an unreachable database after DB_WAIT_SECONDS, so that a held message's
    # attempts fit inside its time limit (delivery.py)
    return Database(os.environ[ENV_DATABASE], min_size=1, max_size=size, name=name, role=role,
                    timeout=delivery.DB_WAIT_SECONDS).open()
