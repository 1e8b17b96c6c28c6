"""Test database: PHOENIX_TEST_DATABASE_URL, else the server at 127.0.0.1:5432, else an embedded
PostgreSQL started for this run (PHOENIX_TEST_EMBEDDED=1 skips the local server). A template database is migrated once per run; every test gets
its own clone (CREATE DATABASE ... TEMPLATE), so tests and runs never collide.

On a TimescaleDB server, its background scheduler connects to every database with the extension,
and CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template (ObjectInUse).
The template is marked IS_TEMPLATE, which TimescaleDB's launcher skips, its scheduler is ended,
and a clone that still meets one retries; clones are ordinary databases, where the jobs run."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from phoenix_board.board import embedded, migrate
from phoenix_board.board.db import Database

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


@pytest.fixture
def url(server_url: str, template_db: str) -> Iterator[str]:
    """A migrated database of this test's own."""
    with _database(server_url, template_db) as url:
        yield url


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    with Database(url, min_size=1, max_size=24, name="phoenix-test") as database:
        yield database


@pytest.fixture
def sql(url: str) -> Iterator[psycopg.Connection]:
    """A plain autocommit connection for checks the board's API does not offer."""
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        yield conn
