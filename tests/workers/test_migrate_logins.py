"""Who migrates (docs/operations/many-hosts.md): the owner's login does, a CREATEROLE
login that is not a superuser included; a pool, exporter or relay logging in with the agent or
monitor role never tries, says in one line that a migration is pending, or waits for it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from phoenix_board.board import errors, migrate
from phoenix_board.board.session import open_board
from phoenix_board.board.settings import Settings
from tests.conftest import wait_for

ROLES = migrate.role_names()


def _admin(server_url: str) -> psycopg.Connection:
    return psycopg.connect(make_conninfo(server_url, dbname=conninfo_to_dict(server_url).get("dbname") or "postgres"),
                           autocommit=True)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PHOENIX_")}


def _versions(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version, checksum FROM phoenix.schema_version ORDER BY 1").fetchall()


@pytest.fixture
def owner_login_board(server_url, logins):
    """A fresh database owned by a login with CREATEROLE (not a superuser), and a role prefix of
    its own so that the roles it creates are new ones; all of it dropped afterwards."""
    prefix = f"pbh{uuid.uuid4().hex[:8]}"
    login_url = logins("owner", "CREATEROLE NOSUPERUSER")
    login = conninfo_to_dict(login_url)["user"]
    dbname = f"pbh_db_{uuid.uuid4().hex[:8]}"
    with _admin(server_url) as conn:
        conn.execute(f"CREATE DATABASE {dbname} OWNER {login}")
    try:
        yield make_conninfo(login_url, dbname=dbname), prefix, login
    finally:
        with _admin(server_url) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
            for role in migrate.role_names(prefix).values():
                conn.execute(f"DROP ROLE IF EXISTS {role}")


def _preloads_timescaledb(server_url: str) -> bool:
    """Whether the server preloads TimescaleDB, read as the tests' superuser (the setting is
    superuser-only, which is why the migration reads another)."""
    with _admin(server_url) as conn:
        return "timescaledb" in conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()[0]


def test_a_createrole_login_that_is_not_a_superuser_migrates(owner_login_board, server_url):
    url, prefix, login = owner_login_board
    report = migrate.migrate(url, prefix)
    assert report.migrations == [f.name for f in migrate.migrations()]
    assert not migrate.migrate(url, prefix).changed
    owner = migrate.role_names(prefix)["owner"]
    timescale = _preloads_timescaledb(server_url)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0] is False
        assert conn.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'phoenix'").fetchone()[0] == owner
        # the timeline took TimescaleDB's path exactly when the server preloads it (this login could
        # not read shared_preload_libraries, and the licence setting is not defined before the
        # extension exists)
        assert bool(conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()) is timescale
        # everything it created went to the owner role, and it works the board as a member of it;
        # on TimescaleDB but the relations its jobs run on, which stay with this login
        # (docs/concepts/beat.md#timeline-timescaledb-or-not)
        # (an index counts as its table's: it belongs to the table's owner)
        kept = {r[0] for r in conn.execute(
            "SELECT coalesce(t.relname, c.relname)::text FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid"
            " LEFT JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE c.relnamespace = 'phoenix'::regnamespace AND c.relowner = current_user::regrole").fetchall()}
        if not timescale:
            assert kept == set()
        else:
            assert conn.execute("SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_schema = 'phoenix'"
                                " AND hypertable_name = 'consciousness_timeline'").fetchone()[0] == 1
            if conn.execute("SELECT current_setting('timescaledb.license')").fetchone()[0] == "timescale":
                assert kept == {"consciousness_timeline", "consciousness_hourly"}
                jobs = conn.execute("SELECT proc_name::text, owner::text FROM timescaledb_information.jobs"
                                    " WHERE hypertable_schema = 'phoenix' ORDER BY 1").fetchall()
                assert jobs == [("policy_refresh_continuous_aggregate", login), ("policy_retention", login)]
        assert conn.execute("SELECT pg_has_role(current_user, %s, 'USAGE')", (owner,)).fetchone()[0]
        assert conn.execute("SELECT count(*) FROM phoenix.teams").fetchone()[0] >= 3
        # the released 0002 file is what is recorded; its superuser-only read was replaced when it ran
        recorded = dict(conn.execute("SELECT version, checksum FROM phoenix.schema_version").fetchall())
    assert recorded["0002_consciousness.sql"] == next(f for f in migrate.migrations()
                                                      if f.name == "0002_consciousness.sql").checksum


def _timescaledb_check(url: str) -> bool:
    """0002's test for a server that preloads TimescaleDB, as it runs (board/migrate.py AS_RUN)."""
    check = migrate.AS_RUN["0002_consciousness.sql"][1]
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(f"SELECT {check}").fetchone()[0]


def test_the_timescaledb_check_is_one_any_login_may_make_before_the_extension_exists(owner_login_board, server_url):
    """A new database, before its first migration: no extension yet, and a login that may not read
    shared_preload_libraries. The check says what the server preloads all the same; a timescaledb.*
    setting left for a library the server no longer preloads (a placeholder) does not count."""
    url, prefix, _ = owner_login_board
    timescale = _preloads_timescaledb(server_url)
    assert _timescaledb_check(url) is timescale
    if timescale:
        return  # the placeholder case is a server without the library
    dbname = conninfo_to_dict(url)["dbname"]
    with _admin(server_url) as conn:
        conn.execute(f"ALTER DATABASE {dbname} SET timescaledb.max_background_workers = '8'")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT current_setting('timescaledb.max_background_workers', true)").fetchone()[0] == "8"
    assert _timescaledb_check(url) is False
    migrate.migrate(url, prefix)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT relkind::text FROM pg_class WHERE oid = 'phoenix.consciousness_hourly'::regclass"
                            ).fetchone()[0] == "m"


def test_a_login_that_may_not_make_itself_owner_is_refused_in_one_line(owner_login_board, logins, server_url):
    url, prefix, _ = owner_login_board
    migrate.migrate(url, prefix)  # the roles exist now, made by the owner login
    other = logins("other", "NOCREATEROLE NOSUPERUSER")
    other_url = make_conninfo(url, user=conninfo_to_dict(other)["user"])
    with _admin(server_url) as conn:  # it may write the database, but not be the owner role
        conn.execute(f"GRANT ALL ON DATABASE {conninfo_to_dict(url)['dbname']} TO {conninfo_to_dict(other)['user']}")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM phoenix.schema_functions WHERE name = '10_hot_rank.sql'")  # a change is pending
    before = _versions(url)
    with pytest.raises(errors.Forbidden, match=f"may not migrate: it is not a member of {prefix}_owner") as info:
        migrate.migrate(other_url, prefix)
    assert len(str(info.value).splitlines()) == 1
    assert _versions(url) == before
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM phoenix.schema_functions WHERE name = '10_hot_rank.sql'").fetchone()[0] == 0


@pytest.fixture
def pending(url, sql):
    """The test's database with one change pending (a function file the migrator will re-apply)."""
    sql.execute("DELETE FROM phoenix.schema_functions WHERE name = '10_hot_rank.sql'")
    return url


@pytest.mark.parametrize("kind", ["agent", "monitor"])
def test_a_pool_or_exporter_login_does_not_migrate_and_says_so_in_one_line(pending, sql, logins, kind):
    login_url = logins(kind, member_of=ROLES[kind], url=pending)
    before = sql.execute("SELECT name, checksum FROM phoenix.schema_functions ORDER BY 1").fetchall()
    settings = Settings(database_url=login_url, schema_wait_seconds=0)
    with pytest.raises(errors.Unavailable) as info, open_board(settings, max_size=1, role=kind, wait_for_schema=True):
        pass
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert "10_hot_rank.sql" in message and "does not migrate" in message and "phoenix-board migrate" in message
    assert "permission denied" not in message
    assert sql.execute("SELECT name, checksum FROM phoenix.schema_functions ORDER BY 1").fetchall() == before


def test_an_agent_login_works_once_nothing_is_pending(url, logins):
    login_url = logins("agent", member_of=ROLES["agent"], url=url)
    with open_board(Settings(database_url=login_url), max_size=1, role="agent") as db:
        assert db.one("team_exists", team="iota")["found"]


@pytest.mark.slow
def test_a_pool_waits_for_the_migrator_with_a_visible_line_then_works(pending, sql, logins, tmp_path, valkey):
    """`workers` logging in as the agent role, started before the migrator: it says it waits, then
    its agents register once the owner migrates; it never crashed."""
    login_url = logins("agent", member_of=ROLES["agent"], url=pending)
    env = {"PHOENIX_DATABASE_URL": login_url, "PHOENIX_REDIS_URL": valkey.url, "PHOENIX_DATA_DIR": str(tmp_path / "d"),
           "PHOENIX_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:8]}", **_clean_env()}
    log = tmp_path / "workers.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "workers", "--team", "iota", "--agents", "1",
                                 "--name", "waiter"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for(lambda: "waiting for `phoenix-board migrate`" in log.read_text(), what="the waiting line")
        assert proc.poll() is None
        assert sql.execute("SELECT count(*) AS n FROM phoenix.agents WHERE codename LIKE 'waiter-%'").fetchone()["n"] == 0
        migrate.migrate(pending)  # the migrator (here the tests' superuser)
        wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.agents WHERE codename = 'waiter-0'")
                 .fetchone()["n"], what="the pool's agent")
        assert "permission denied" not in log.read_text() and "Traceback" not in log.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_pool_that_is_not_given_time_to_wait_exits_with_one_line(pending, logins, tmp_path, valkey):
    login_url = logins("agent", member_of=ROLES["agent"], url=pending)
    env = {"PHOENIX_DATABASE_URL": login_url, "PHOENIX_REDIS_URL": valkey.url, "PHOENIX_DATA_DIR": str(tmp_path / "d"),
           "PHOENIX_SCHEMA_WAIT_SECONDS": "0", **_clean_env()}
    proc = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "workers", "--team", "iota", "--agents", "1"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: the schema has 2 pending change(s) (10_hot_rank.sql")
