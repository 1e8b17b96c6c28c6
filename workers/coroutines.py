"""Handlers that are coroutines (``async def``): one event loop per process runs them all.

An agent's loop is synchronous (the board's calls, Celery's pools), so a coroutine handler's
coroutine is handed to this process's loop, a daemon thread started on first use (after a prefork
pool's fork, never before: the loop belongs to the process that runs it), and the agent's thread
waits for its result. A thread pool's hundreds of agents so share one loop: handlers that await
the network overlap on it while each agent waits in its own thread, and a handler that blocks the
loop (a synchronous call inside ``async def``) stalls the others, as it would in any asyncio
program. The lease is renewed meanwhile by the process's renewer, as for any handler.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid: int | None = None


def _running_loop() -> asyncio.AbstractEventLoop:
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid():  # none yet, or inherited through a fork: not ours
            _loop, _pid = asyncio.new_event_loop(), os.getpid()
            threading.Thread(target=_loop.run_forever, name="phoenix-handlers-loop", daemon=True).start()
        return _loop


def resolve(value: Any) -> Any:
    """A handler's return value; a coroutine's (or any awaitable's) once run on the process's loop."""
    if not inspect.isawaitable(value):
        return value
    return run(value)


def run(awaitable: Awaitable[T]) -> T:
    """Runs the awaitable on this process's event loop and waits for it (from an agent's thread)."""
    async def _await() -> T:
        return await awaitable

    return asyncio.run_coroutine_threadsafe(_await(), _running_loop()).result()
