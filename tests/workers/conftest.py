"""Real Celery worker processes (`phoenix-board workers`) on a real broker (the embedded Valkey of
tests/conftest.py, one per test) and the test's own PostgreSQL database; logins of their own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from phoenix_board.board.settings import Settings
from phoenix_board.workers.client import Client
from tests.conftest import Valkey


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


# Logins of their own on the shared server: roles are global, so every name carries a random
# suffix and is dropped after the test, with whatever it owns.
@pytest.fixture
def logins(server_url: str) -> Iterator[Callable[..., str]]:
    """make(kind, options, member_of=None, url=...) creates a login and returns its URL; dropped after."""
    admin_url = make_conninfo(server_url, dbname=conninfo_to_dict(server_url).get("dbname") or "postgres")
    made: list[str] = []

    def make(kind: str, options: str = "", member_of: str | None = None, url: str = server_url) -> str:
        name = f"pbh_{kind}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {name} LOGIN {options}" + (f" IN ROLE {member_of}" if member_of else ""))
        made.append(name)
        return make_conninfo(url, user=name)

    try:
        yield make
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for name in reversed(made):
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f"DROP ROLE IF EXISTS {name}")
