"""A pool's identity: the codename prefix of its agents and the token with which it holds them.

The database refuses a process that attaches to an agent another live process holds
(``phoenix.agent_register``, docs/operations/running-agents.md); this module chooses what
a pool asks for, so that the refusal is rare and said in one line before any process starts:

* The token is kept in ``<data_dir>/pools/<prefix>.holder`` under an exclusive ``flock`` that the
  pool keeps while it runs. A pool restarted on this host (after a SIGKILL too: the kernel drops
  the lock with the last process holding it) reads the same token and re-attaches to its agents at
  once; a second pool on this host with the same prefix finds the file locked.
* Without ``--name``, a pool whose default prefix ``<team>.<hostname>`` is taken (locked here,
  held by a live pool elsewhere: another host with the same hostname, or decommissioned) takes
  ``<team>.<hostname>.2``, ``.3``, … and says so; with ``--name`` it is refused.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import uuid
from pathlib import Path
from typing import IO

from phoenix_board.board import errors
from phoenix_board.board.db import Database

log = logging.getLogger(__name__)
DEFAULT_PREFIXES = 16  # <team>.<host>, .2 ... .16: more pools of one team on one host is a mistake


@dataclasses.dataclass
class Identity:
    prefix: str
    holder: uuid.UUID
    lock: IO[str]  # kept open while the pool runs: the flock is the pool's claim on this host


def codenames(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


def _lock(data_dir: Path, prefix: str) -> Identity | None:
    """The prefix's token file, locked; None if another pool on this host holds it."""
    folder = data_dir / "pools"
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / f"{prefix}.holder", "a+", encoding="utf-8")  # noqa: SIM115 - held while the pool runs
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    text = handle.read().strip()
    try:
        holder = uuid.UUID(text)
    except ValueError:
        holder = uuid.uuid4()
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder}\n")
        handle.flush()
        os.fsync(handle.fileno())
    return Identity(prefix, holder, handle)


def _held_elsewhere(db: Database, prefix: str, n: int, holder: uuid.UUID) -> list[dict]:
    return db.all("agents_held_by_others", codenames=codenames(prefix, n), holder=holder)


def choose(db: Database, data_dir: Path, prefix: str, n: int, *, named: bool) -> Identity:
    """The pool's prefix and token: ``prefix`` if free, else (unnamed) the next free suffix."""
    tried: list[str] = []
    for i in range(1, 1 + (1 if named else DEFAULT_PREFIXES)):
        candidate = prefix if i == 1 else f"{prefix}.{i}"
        identity = _lock(data_dir, candidate)
        if identity is None:
            tried.append(f"{candidate}-* run in another pool on this host")
            continue
        held = _held_elsewhere(db, candidate, n, identity.holder)
        if held:
            identity.lock.close()
            first = held[0]
            tried.append(f"{first['codename']} is decommissioned (an operator brings it back with `phoenix-board "
                         f"agents register`)" if first["decommissioned"] else
                         f"{first['codename']} is held by another live process "
                         f"(last heartbeat {first['seconds_ago']:.1f} s ago)")
            continue
        if i > 1:
            log.warning("agents %s: %s; this pool's agents are %s-0..%d", prefix, tried[-1], candidate, n - 1)
        return identity
    hint = "give this pool another --name, or stop the other one" if named else "stop some of them"
    raise errors.Conflict(f"agents {prefix}-*: {tried[0]}; {hint}")
