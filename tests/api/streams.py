"""Helpers for the API's stream tests: collect entries, run the relay until they arrive."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from phoenix_board.workers import stream
from tests.conftest import start_cli, stop_cli

# the relay as `up` runs it: a tenth of a second between passes
RELAY = ["events", "relay", "--interval", "0.1"]


async def take(events: AsyncIterator[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The next n entries (the test's overall timeout bounds the wait)."""
    out = []
    async for event in events:
        out.append(event)
        if len(out) == n:
            break
    return out


async def relay_until(relay: stream.Relay, *futures: asyncio.Future, timeout: float = 60.0) -> None:
    """Relay passes (in a thread, as the relay process runs them) until every future is done."""
    end = asyncio.get_running_loop().time() + timeout
    while not all(f.done() for f in futures):
        await asyncio.to_thread(relay.run_once)
        await asyncio.sleep(0.05)
        if asyncio.get_running_loop().time() > end:
            raise TimeoutError("the subscribers did not get their entries")
    for f in futures:
        f.result()  # re-raise what a subscriber met


@contextlib.contextmanager
def relay_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`phoenix-board events relay` as `up` runs it (a tenth of a second between passes): what
    feeds the server's subscriptions and createTask's wait."""
    proc = start_cli(RELAY, env, log)
    try:
        yield proc
    finally:
        stop_cli(proc)
