"""What runs for a board: one `up` per data directory, the record of what it started, and the
clean-up of what a dead one left behind.

- **The lock.** `up` holds an exclusive ``flock`` on ``<data_dir>/up.lock`` for its whole life. The
  kernel drops it when the process dies, however it dies, so a crash never leaves a stale lock (a
  pid file would, and a reused pid would make it lie).
- **The record.** ``<data_dir>/up.json`` names the `up` (pid, start time, URLs, logs) and every
  process it started, each with its creation time, so that a pid the system has since given to an
  unrelated process is never signalled.
- **The watchdog** (``workers/watchdog.py``) holds the read end of a pipe whose write end only `up`
  holds; it reads end-of-file the moment `up` dies, ``kill -9`` included, and stops what the record
  lists. A new `up` does the same before it starts, in case the watchdog died too.

Agents stop first (a warm shutdown while the broker and the database still answer), servers last.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from phoenix_board.board import errors

LOCK = "up.lock"
RECORD = "up.json"
AGENT_GRACE_SECONDS = 20.0  # a running handler's warm shutdown; then the group is killed
SERVER_GRACE_SECONDS = 10.0  # PostgreSQL's fast shutdown, Valkey's final append-only write
# how each kind of server is asked to stop: PostgreSQL's "fast" shutdown is SIGINT
STOP_SIGNAL = {"postgres": signal.SIGINT, "valkey": signal.SIGTERM}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Lock:
    """The exclusive lock of one data directory, held by the running `up`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.fd: int | None = None

    def acquire(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise errors.Conflict(describe(read(self.data_dir), self.data_dir)) from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


def held(data_dir: Path) -> bool:
    """Whether an `up` holds this data directory's lock now."""
    path = data_dir.resolve() / LOCK
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases it if this probe took it
    return False


def describe(record: dict[str, Any] | None, data_dir: Path) -> str:
    # what to do comes before the URLs: an error line is cut at ERROR_MESSAGE_MAX characters, and
    # long data directories (the logs' path repeats it) once cut the advice off
    stop = "stop it with `phoenix-board down`"
    if not record:
        return f"up is already running for {data_dir.resolve()}; {stop}"
    urls = ", ".join(f"{k} {v}" for k, v in record.get("urls", {}).items())
    return (f"up is already running for {record['data_dir']}: pid {record['pid']} since {record['started_at']}; "
            f"{stop}" + (f"; {urls}" if urls else ""))


def read(data_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((data_dir.resolve() / RECORD).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write(data_dir: Path, record: dict[str, Any]) -> None:
    path = data_dir.resolve() / RECORD
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)  # atomic: a reader never sees half a record


def forget(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir.resolve() / RECORD).unlink()


def entry(name: str, kind: str, pid: int, *, group: bool = False) -> dict[str, Any]:
    """A process of the record: ``kind`` is up, watchdog, agents (a pool, the beat, the exporter,
    the relay: each the leader of its own process group) or a server (postgres, valkey)."""
    return {"name": name, "kind": kind, "pid": pid, "group": group,
            "created": psutil.Process(pid).create_time(), "since": _now()}


def new_record(data_dir: Path) -> dict[str, Any]:
    me = entry("up", "up", os.getpid())
    return {"pid": me["pid"], "data_dir": str(data_dir.resolve()), "started_at": me["since"], "urls": {},
            "processes": [me]}


def alive(p: dict[str, Any]) -> bool:
    """The recorded process still runs (not a zombie, not a stranger with its pid); for a group,
    any process of it still runs (the pool processes outlive a killed leader)."""
    if p.get("group"):
        try:
            os.killpg(p["pid"], 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    try:
        proc = psutil.Process(p["pid"])
        return abs(proc.create_time() - p["created"]) < 0.5 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def members(p: dict[str, Any]) -> list[int]:
    """The pids of a recorded group (the worker main and its pool processes), or the one pid."""
    if not p.get("group"):
        return [p["pid"]] if alive(p) else []
    found = []
    for proc in psutil.process_iter():
        # a process that ended since the listing is no member (os.getpgid raises ProcessLookupError)
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == p["pid"]:
                found.append(proc.pid)
    return found


def _signal(p: dict[str, Any], sig: int) -> None:
    """SIGKILL goes to a whole group; any other signal to its leader only (a worker's main process
    shuts its pool down warmly; the pool processes themselves would die mid-task)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if p.get("group") and sig == signal.SIGKILL:
            os.killpg(p["pid"], sig)
        elif _leader_alive(p):
            os.kill(p["pid"], sig)


def _leader_alive(p: dict[str, Any]) -> bool:
    return alive({**p, "group": False})


def _wait_gone(procs: list[dict[str, Any]], seconds: float) -> None:
    end = time.monotonic() + seconds
    while any(alive(p) for p in procs) and time.monotonic() < end:
        time.sleep(0.1)


def stop(record: dict[str, Any], *, agent_grace: float = AGENT_GRACE_SECONDS,
         server_grace: float = SERVER_GRACE_SECONDS) -> list[str]:
    """Stops what the record lists and still runs (not `up` itself): agents first, servers last.
    Returns the names of what it found running."""
    procs = [p for p in record.get("processes", []) if p["kind"] not in ("up", "watchdog") and alive(p)]
    found = [p["name"] for p in procs]
    for kinds, grace in ((("agents",), agent_grace), (tuple(STOP_SIGNAL), server_grace)):
        batch = [p for p in procs if p["kind"] in kinds]
        for p in batch:
            _signal(p, STOP_SIGNAL.get(p["kind"], signal.SIGTERM))
        _wait_gone(batch, grace)
        for p in batch:
            _signal(p, signal.SIGKILL)
        _wait_gone(batch, 5)
    return found


def wait_released(data_dir: Path, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while held(data_dir):
        if time.monotonic() >= end:
            return False
        time.sleep(0.2)
    return True
