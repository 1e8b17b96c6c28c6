"""The server's two connection pools, and how a request's board call runs on one of them.

* **operator pool**: the server's own login (``PHOENIX_DATABASE_URL``), acting as the owner. It
  serves operator tokens, reader tokens and public reads (reads go to the replica when
  ``PHOENIX_DATABASE_READ_URL`` is set), and the token store (api/auth.py, api/tokens.py).
* **agent pool**: every connection is in the agent role, as a worker's is: it logs in with
  ``PHOENIX_AGENT_DATABASE_URL`` when that is set (a login whose only group is the agent role,
  as ``up`` gives its pools: workers/logins.py), else with the server's login and ``SET ROLE``.
  An agent token's every call, reads included, runs here inside ``db.acting_as(agent)``, the
  path a worker's calls take: the SECURITY DEFINER functions refuse to act for any other agent
  (``phoenix.act_as``) and row-level security shows it only what it may see. The token decides
  the agent; nothing in the request can name another.

The board's Python API is synchronous (psycopg's ConnectionPool), so a call runs in a worker
thread (``anyio.to_thread``) bounded by a limiter as large as the pools. An async pool would
need an async twin of every board function, two homes for each rule; a board call is one short
round trip, so a thread waits briefly and the event loop never blocks on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from phoenix_board.board import db as board_db
from phoenix_board.board import migrate
from phoenix_board.board.db import Database
from phoenix_board.board.session import open_board

T = TypeVar("T")


@dataclasses.dataclass
class Pools:
    operator: Database
    agent: Database
    reads: Database  # the replica when one is set, else the operator pool
    limiter: anyio.CapacityLimiter

    async def run(self, fn: Callable[..., T], *args: Any, agent: Any = None, write: bool = True, **kwargs: Any) -> T:
        """``fn(db, *args, **kwargs)`` in a worker thread: on the agent pool acting as ``agent``
        when one is given, else on the operator pool (``write=False``: the read pool)."""
        if agent is not None:
            call = functools.partial(_as_agent, self.agent, agent, fn, *args, **kwargs)
        else:
            call = functools.partial(fn, self.operator if write else self.reads, *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self.limiter)


def _as_agent(db: Database, agent: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with board_db.acting_as(agent):  # a context variable: set inside the thread that runs the call
        return fn(db, *args, **kwargs)


@contextlib.contextmanager
def open_pools(settings: Any) -> Iterator[Pools]:
    """Both pools, open; the schema brought up to date (or waited for) as a long-running process does."""
    size = settings.api_pool_size
    with open_board(settings, max_size=size, wait_for_schema=True) as operator, contextlib.ExitStack() as stack:
        agent_role = migrate.role_names(settings.role_prefix)["agent"]
        agent = stack.enter_context(Database(settings.agent_database_url or operator.url, min_size=1, max_size=size,
                                             name="phoenix-board api agents", role=agent_role))
        reads = operator
        if settings.database_read_url:
            reads = stack.enter_context(Database(settings.database_read_url, min_size=1, max_size=size,
                                                 name="phoenix-board api reads"))
        # two pools and a replica: at most three calls per connection slot wait their turn
        yield Pools(operator, agent, reads, anyio.CapacityLimiter(size * 2))
