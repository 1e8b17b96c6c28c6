"""The board's tests share: threads released together, the agent role's database and its refusals,
and private PostgreSQL clusters.

Private PostgreSQL clusters are for tests that must not touch the shared server: initdb and pg_ctl
from the installed PostgreSQL (``pg_config --bindir``), a free port, a data directory under the
test's tmp_path, stopped by the test. PostgreSQL refuses to run as root: as root, the cluster runs
as the ``postgres`` system user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from phoenix_board.board import errors, migrate
from phoenix_board.board.db import Database
from tests.conftest import free_port, login, snapshot

ROLES = migrate.role_names()


# --- threads released together -----------------------------------------------------------------

def run_together(calls: list[Callable[[], Any]], timeout: float = 120) -> list[Any]:
    """Runs each call in its own thread, all released at once by a barrier.

    Returns the results in the order of ``calls``; an exception in a call is returned (not raised),
    so that a test can count refusals as outcomes.
    """
    barrier = threading.Barrier(len(calls))

    def released(call: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            barrier.wait(timeout=30)
            try:
                return call()
            except Exception as exc:  # noqa: BLE001 - the caller decides which outcomes are fine
                return exc

        return run

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(released(call)) for call in calls]
        return [f.result(timeout=timeout) for f in futures]


def raised(results: list[Any]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


# --- the agent role ----------------------------------------------------------------------------

@pytest.fixture
def agent_db(sql, url) -> Iterator[Database]:
    """The board as a login of the agent role sees it."""
    for login_url in login(sql, url, ROLES["agent"]):
        with Database(login_url, max_size=4, name="phoenix-test-agent") as db:
            yield db


def refused(sql, kind: type[errors.BoardError], match: str, call) -> errors.BoardError:
    """call() must raise kind (matching match) in one line and change nothing."""
    before = snapshot(sql)
    with pytest.raises(kind, match=match) as info:
        call()
    assert len(str(info.value).splitlines()) == 1
    assert snapshot(sql) == before, "a refused act changed the database"
    return info.value


def raw(db: Database, statement: str, params=()):
    with db.transaction() as conn:
        return conn.execute(statement, params).fetchall()


# --- private clusters --------------------------------------------------------------------------


def bindir() -> Path:
    """Where initdb is: on PATH, else pg_config's bindir, else Debian's /usr/lib/postgresql/<newest>/bin
    (libpq-dev's pg_config answers /usr/bin, where Debian does not put the server)."""
    candidates = []
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).parent)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        candidates.append(Path(out))
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    candidates.extend(reversed(debian))
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_basebackup").exists():
            return path
    pytest.fail("no initdb found: these tests need the PostgreSQL server binaries (apt-get install postgresql)")


class Cluster:
    """One PostgreSQL server on 127.0.0.1:<free port>, superuser ``postgres``, trust auth."""

    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self.port = free_port()
        self.bin = bindir()
        self.user = "postgres" if os.geteuid() == 0 else None

    def run(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([*args], capture_output=True, text=True, user=self.user, timeout=120)
        assert result.returncode == 0, f"{args[0]}: {result.stdout}{result.stderr}"
        return result

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for parent in [path, *path.parents]:  # the server's user must reach its directory
                if parent == Path("/") or parent == Path("/tmp"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o711)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)

    def initdb(self, **settings: str) -> Cluster:
        self._own(self.datadir)
        self.run(str(self.bin / "initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C")
        self.configure(wal_level="replica", max_wal_senders="5", hot_standby="on", **settings)
        with open(self.datadir / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        return self

    def configure(self, **settings: str) -> None:
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n")
            for name, value in settings.items():
                conf.write(f"{name} = '{value}'\n")

    def replica_of(self, primary: Cluster) -> Cluster:
        """A hot standby streaming from ``primary`` (pg_basebackup -R writes its primary_conninfo)."""
        self._own(self.datadir)
        self.run(str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                 "-D", str(self.datadir), "-R", "-X", "stream", "-c", "fast")
        self.configure()  # the port line appended last wins over the primary's copy
        return self

    def start(self) -> Cluster:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.datadir / "server.log"),
                 "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"],
                       capture_output=True, user=self.user, timeout=60)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(dbname), autocommit=True, row_factory=psycopg.rows.dict_row)


def as_agent(conn, agent, statement, params=()):
    """One statement in its own transaction as the given agent (None: a session that names none)."""
    with conn.transaction():
        if agent is not None:
            conn.execute("SELECT set_config('phoenix.agent_id', %s, true)", (str(agent),))
        return conn.execute(statement, params).fetchone()
