"""Only the owner holds the board's locks and writes scratch objects (issue 12, point 8): the agent
and monitor logins cannot take the advisory locks that keep the event stream's relay and the beat's
jobs single, and the monitor creates no temporary table and no large object. Tried on a database
migrated from scratch, as `phoenix-board migrate` sets it up (a clone made with CREATE DATABASE
... TEMPLATE does not copy the database's own privileges)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from phoenix_board.board import migrate
from phoenix_board.workers import stream
from phoenix_board.scheduler import jobs
from tests.board.conftest import ROLES
from tests.conftest import login

LOCKS = [
    "SELECT pg_try_advisory_lock(%(key)s)",
    "SELECT pg_advisory_lock(%(key)s)",
    "SELECT pg_advisory_lock_shared(%(key)s)",
    "SELECT pg_try_advisory_xact_lock(%(key)s)",
    "SELECT pg_advisory_lock(1, 2)",
]
KEYS = [jobs.lock_key("release_expired"), stream.LOCK_KEY]


@pytest.fixture
def migrated(fresh_url) -> Iterator[tuple[str, psycopg.Connection]]:
    migrate.migrate(fresh_url)
    with psycopg.connect(fresh_url, autocommit=True) as admin:
        yield fresh_url, admin


def connect(admin, url: str, role: str) -> Iterator[psycopg.Connection]:
    for login_url in login(admin, url, ROLES[role]):
        with psycopg.connect(login_url, autocommit=True) as conn:
            yield conn


@pytest.mark.parametrize("role", ["agent", "monitor"])
def test_agent_and_monitor_logins_take_no_advisory_lock(migrated, role):
    url, admin = migrated
    for conn in connect(admin, url, role):
        for statement in LOCKS:
            for key in KEYS:
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
                    conn.execute(statement, {"key": key})
    # nobody holds anything
    assert admin.execute("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                         "WHERE l.locktype = 'advisory' AND d.datname = current_database()").fetchone()[0] == 0


def test_an_owner_login_still_takes_them(migrated):
    url, admin = migrated
    for conn in connect(admin, url, "owner"):
        assert conn.execute("SELECT pg_try_advisory_lock(%s)", (KEYS[0],)).fetchone()[0] is True
        assert conn.execute("SELECT pg_advisory_unlock(%s)", (KEYS[0],)).fetchone()[0] is True
        conn.execute("CREATE TEMP TABLE scratch (x int)")
        conn.execute("DROP TABLE scratch")


@pytest.mark.parametrize("statement", [
    "CREATE TEMP TABLE scratch (x int)",
    "SELECT lo_create(0)",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT lo_creat(-1)",
])
@pytest.mark.parametrize("role", ["agent", "monitor"])
def test_the_monitor_and_agent_logins_write_no_scratch_objects(migrated, role, statement):
    url, admin = migrated
    for conn in connect(admin, url, role):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(statement)
    assert admin.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()[0] == 0
