"""The fault runs' rig: a board, a broker, agent pools and the probe's ledger, all of their own.

Each fault scenario (``python -m phoenix_board.harness.faults``) gets a fresh rig, so its figures count only its own tasks: a
migrated database (the caller's scratch database, or a private embedded PostgreSQL that the
scenario may restart), an embedded Valkey that may be stopped and started on the same port
with its append-only file (never the configured Redis: other boards may share that one), and
``phoenix-board workers`` pools started as real processes, which alone load the ``probe``
handler (named in their environment). The rig kills only pool processes that are children of a
pool it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil

from phoenix_board.board import errors
from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings
from phoenix_board.harness.faults import probe
from phoenix_board.harness.queries import database
from phoenix_board.workers import broker, handlers
from phoenix_board.workers.client import Client

TEAM = "iota"
T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    """Polls until predicate() is truthy. A database or broker that is away (a restart under test)
    counts as "not yet", so the harness rides out the faults it injects."""
    end = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except errors.Unavailable:
            value = None
        if value:
            return value
        if time.monotonic() > end:
            raise errors.Unavailable(f"faults: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class Pool:
    """One ``phoenix-board workers`` process and its pool processes (the agents)."""

    def __init__(self, proc: subprocess.Popen, log: Path, agents: int) -> None:
        self.proc = proc
        self.log = log
        self.agents = agents

    def children(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:
            return []

    def kill(self, pid: int) -> bool:
        """SIGKILL one pool process; refuses any pid that is not a live child of this pool."""
        if pid not in self.children():
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            return True
        return False

    def wait_full(self, timeout: float, without: int | None = None) -> None:
        """Until the pool has all its processes again (and ``without`` is gone: it was replaced)."""
        def full() -> bool:
            if self.proc.poll() is not None:
                raise errors.BoardError(f"the worker stopped: {self.tail()}")
            pids = self.children()
            return len(pids) == self.agents and without not in pids
        wait_until(full, timeout, "the pool to replace a killed process")

    def tail(self, lines: int = 3) -> str:
        text = self.log.read_text(errors="replace").strip().splitlines() if self.log.exists() else []
        return " | ".join(text[-lines:])

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)


@dataclass
class Ledger:
    """The probe's ledger: every execution step, read incrementally while the run goes on."""

    path: Path
    entries: list[dict[str, Any]] = field(default_factory=list)
    _offset: int = 0

    def read(self) -> list[dict[str, Any]]:
        """New entries since the last read (only whole lines: a writer may be mid-line)."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        new = [json.loads(line) for line in chunk[:end].splitlines() if line.strip()]
        self.entries.extend(new)
        return new

    def steps(self, step: str) -> list[dict[str, Any]]:
        self.read()
        return [e for e in self.entries if e["step"] == step]


@dataclass
class Rig:
    url: str
    valkey: broker.EmbeddedValkey
    broker_url: str
    workdir: Path
    settings: Settings
    env: dict[str, str]
    db: Database
    client: Client
    ledger: Ledger
    pools: list[Pool] = field(default_factory=list)

    @property
    def lease(self) -> float:
        return self.settings.lease_seconds

    def start_pool(self, agents: int, name: str = "fault") -> Pool:
        log = self.workdir / f"{name}-{len(self.pools)}.log"
        out = open(log, "ab")  # noqa: SIM115 - kept open for the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "phoenix_board.cli", "workers", "--team", TEAM, "--agents", str(agents),
             "--name", name, "--loglevel", "INFO", "--metrics-port", "0"],
            env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        pool = Pool(proc, log, agents)
        self.pools.append(pool)
        pool.wait_full(90)
        wait_until(lambda: self.db.one("bench_e2e_live_agents")["n"] >= sum(p.agents for p in self.pools),
                   90, "the agents to register")
        return pool

    def restart_broker(self, down_seconds: float) -> None:
        self.valkey.stop()
        time.sleep(down_seconds)
        self.valkey.start()

    def submit(self, tasks: list[dict[str, Any]], batch: int = 50) -> list[str]:
        """Sends submissions through the queue, as a producer that retries with the same keys does
        when the broker is away. -> their idempotency keys"""
        keyed = [{**t, "idempotency_key": t.get("idempotency_key") or str(uuid.uuid4())} for t in tasks]
        for start in range(0, len(keyed), batch):
            part = keyed[start:start + batch]
            wait_until(lambda: self.client.submit_many(part, batch) or True, 120, "the broker to take a submission", 0.2)
        return [t["idempotency_key"] for t in keyed]


def probe_task(title: str, before: float = 0.0, work: float = 0.0) -> dict[str, Any]:
    # attempts to spare: a task killed several times must still be able to complete
    return {"title": title, "team": TEAM, "category": probe.CATEGORY, "max_attempts": 20,
            "payload": {"before": before, "work": work}}


@contextlib.contextmanager
def open_rig(url: str, workdir: Path, lease: float, settings: Settings | None = None) -> Iterator[Rig]:
    """A rig on the migrated database at ``url``; stops everything it started."""
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"faults{uuid.uuid4().hex[:8]}"
    valkey = broker.EmbeddedValkey(workdir)
    broker_url = valkey.start()
    ledger = Ledger(workdir / "probe-ledger.jsonl")
    settings = (settings or Settings()).model_copy(update={
        "database_url": url, "redis_url": broker_url, "queue_prefix": prefix, "data_dir": workdir,
        "lease_seconds": lease})
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": broker_url,
           "PHOENIX_QUEUE_PREFIX": prefix, "PHOENIX_DATA_DIR": str(workdir),
           "PHOENIX_LEASE_SECONDS": str(lease), "PHOENIX_IDLE_POLL_SECONDS": "0.5",
           "PHOENIX_HEARTBEAT_SECONDS": "1", "PHOENIX_WORK_BUDGET_SECONDS": "10",
           probe.ENV_LEDGER: str(ledger.path), handlers.ENV_MODULES: probe.__name__}
    pools: list[Pool] = []
    try:
        with database(url, min_size=1, max_size=3, name="phoenix-faults") as db, Client(settings) as client:
            rig = Rig(url, valkey, broker_url, workdir, settings, env, db, client, ledger, pools)
            try:
                yield rig
            finally:
                for pool in rig.pools:
                    pool.stop()
    finally:
        valkey.stop()
