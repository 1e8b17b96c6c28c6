"""A Celery inspect command that names a worker's agents: ``celery -A phoenix_board.workers.app
inspect phoenix_agents``. Celery knows pool processes by pid; operators know agents by codename.
A pool process is the agent ``<prefix>-<pool index>`` (workers/process_state.py), so the worker's main
process can name them without asking the pool; a thread pool's agents all live in the worker's process.
"""

from __future__ import annotations

import os
from typing import Any

from celery.worker.control import inspect_command

from phoenix_board.workers import process_state


@inspect_command()
def phoenix_agents(state: Any) -> dict[str, Any]:
    """The team, codenames and pool pids of this worker's agents."""
    pool = state.consumer.pool
    processes = getattr(pool, "_pool", None)
    workers = list(getattr(processes, "_pool", []) or [])
    prefix = os.environ.get(process_state.ENV_PREFIX, "")
    agents = [{"codename": loop.codename, "pid": os.getpid()} for loop in process_state.state.loops]  # threads
    for process in workers:
        index = getattr(process, "index", None)
        if index is not None:
            agents.append({"codename": process_state.codename(prefix, index), "pid": process.pid})
    return {"team": os.environ.get(process_state.ENV_TEAM, ""), "prefix": prefix,
            "agents": sorted(agents, key=lambda a: a["codename"])}


@inspect_command()
def phoenix_submissions(state: Any) -> dict[str, Any]:
    """The separate submit messages this worker's consumer holds (workers/batching.py): how many are
    held unacknowledged in all, how many wait for a batch, and how many batches are being written.
    They are no Celery tasks, so `inspect active` and Flower's task list do not show them."""
    batcher = getattr(state.consumer, "submit_batcher", None)
    if batcher is None:  # the consumer has not set up its strategies yet
        return {"held": 0, "waiting": 0, "batches_in_flight": 0}
    return batcher.counts()
