"""Migrations: applied once, re-runnable, refusing edited files, constants kept in step."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from phoenix_board.board import constants, errors, migrate


def versions(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version, checksum FROM phoenix.schema_version ORDER BY version").fetchall()


def test_fresh_database_gets_every_migration_once(fresh_url):
    report = migrate.migrate(fresh_url)
    assert report.migrations == [f.name for f in migrate.migrations()]
    assert report.functions[0].startswith("00_constants")
    again = migrate.migrate(fresh_url)
    assert not again.changed
    assert [v for v, _ in versions(fresh_url)] == [f.name for f in migrate.migrations()]


def test_edited_migration_is_refused(fresh_url, monkeypatch):
    migrate.migrate(fresh_url)
    real = migrate.migrations()
    edited = [dataclasses.replace(real[0], text=real[0].text + "\n-- an edit\n"), *real[1:]]
    monkeypatch.setattr(migrate, "migrations", lambda: edited)
    with pytest.raises(errors.Conflict, match="was edited after it was applied"):
        migrate.migrate(fresh_url)


def test_unknown_applied_migration_is_refused(fresh_url):
    migrate.migrate(fresh_url)
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute("INSERT INTO phoenix.schema_version (version, checksum) VALUES ('9999_future.sql', 'x')")
    with pytest.raises(errors.Conflict, match="upgrade phoenix-board"):
        migrate.migrate(fresh_url)


def test_changed_function_file_is_reapplied(fresh_url, monkeypatch):
    migrate.migrate(fresh_url)
    real = migrate.functions()
    changed = [*real[:-1], dataclasses.replace(real[-1], text=real[-1].text + "\n-- changed\n")]
    monkeypatch.setattr(migrate, "functions", lambda: changed)
    # the privileges follow every change: a re-created function starts with the default ones
    assert migrate.migrate(fresh_url).functions == [real[-1].name, migrate.security_sql().name]


def test_another_role_prefix_gets_its_own_roles(fresh_url):
    migrate.migrate(fresh_url, role_prefix="pbtest")
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        owner = conn.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'phoenix'").fetchone()[0]
        assert owner == "pbtest_owner"
        assert conn.execute("SELECT phoenix.owner_role()").fetchone()[0] == "pbtest_owner"
        assert conn.execute("SELECT has_function_privilege('pbtest_agent', 'phoenix.task_claim(uuid,float8,timestamptz)', "
                            "'EXECUTE')").fetchone()[0]
    with pytest.raises(errors.InvalidInput, match="role prefix"):
        migrate.migrate(fresh_url, role_prefix="Bad-Prefix")


def test_sql_constants_equal_python_constants(url):
    with psycopg.connect(url) as conn:
        for name in constants.SQL_EXPORTS:
            value = conn.execute(f"SELECT phoenix.k_{name.lower()}()").fetchone()[0]
            assert value == pytest.approx(float(getattr(constants, name))), name


def test_status_lists_pending(fresh_url):
    pending = migrate.status(fresh_url)
    assert pending["pending"] == [f.name for f in migrate.migrations()] and pending["applied"] == []
    migrate.migrate(fresh_url)
    assert migrate.status(fresh_url)["pending"] == []


@pytest.mark.parametrize("column,limit,ok,bad", [
    ("title", constants.TITLE_MAX, "x" * constants.TITLE_MAX, "x" * (constants.TITLE_MAX + 1)),
    ("description", constants.DESCRIPTION_MAX, "x" * constants.DESCRIPTION_MAX, "x" * (constants.DESCRIPTION_MAX + 1)),
])
def test_database_limits_match_python_limits(url, column, limit, ok, bad):
    """The constraints are the last line of defence; they must agree with constants.py."""
    with psycopg.connect(url, autocommit=True) as conn:
        values = {"title": "t", "description": "", column: ok}
        conn.execute("INSERT INTO phoenix.tasks (title, description, team) VALUES (%(title)s, %(description)s, 'iota')", values)
        values[column] = bad
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO phoenix.tasks (title, description, team) VALUES (%(title)s, %(description)s, 'iota')", values)


def test_an_earlier_checksum_of_a_migration_edited_for_a_failing_server_still_counts(fresh_url):
    """0002 was edited for the Apache-licensed TimescaleDB, where it failed; a database that applied
    the earlier text is up to date, and any other text is still refused."""
    migrate.migrate(fresh_url)
    (earlier,) = migrate.EARLIER_CHECKSUMS["0002_consciousness.sql"]
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute("UPDATE phoenix.schema_version SET checksum = %s WHERE version = '0002_consciousness.sql'", (earlier,))
    assert not migrate.migrate(fresh_url).changed
    assert migrate.status(fresh_url)["pending"] == []
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute("UPDATE phoenix.schema_version SET checksum = repeat('0', 64) WHERE version = '0002_consciousness.sql'")
    with pytest.raises(errors.Conflict, match="0002_consciousness.sql was edited after it was applied"):
        migrate.migrate(fresh_url)


def test_the_migration_fallback_follows_what_the_server_allows(url):
    """Plain PostgreSQL: a table and a materialized view; TimescaleDB: a hypertable, and with its
    community licence a real-time continuous aggregate; under the Apache licence a materialized view."""
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        timescale = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        # by what the server preloads (the tests log in as a superuser, who may read it), not by what
        # the migration made: a check that missed TimescaleDB took the plain path unnoticed
        preloaded = "timescaledb" in conn.execute("SELECT current_setting('shared_preload_libraries') AS s"
                                                  ).fetchone()["s"]
        assert (timescale is not None) is preloaded
        hourly = conn.execute("SELECT relkind FROM pg_class WHERE oid = 'phoenix.consciousness_hourly'::regclass"
                              ).fetchone()["relkind"]
        if timescale is None:
            assert hourly == "m"
            return
        licence = conn.execute("SELECT current_setting('timescaledb.license') AS l").fetchone()["l"]
        assert conn.execute("SELECT count(*) AS n FROM timescaledb_information.hypertables"
                            " WHERE hypertable_schema = 'phoenix'").fetchone()["n"] == 1
        if licence == "apache":
            assert hourly == "m"
        else:
            assert hourly == "v"
            realtime = conn.execute("SELECT materialized_only FROM timescaledb_information.continuous_aggregates"
                                    " WHERE view_schema = 'phoenix'").fetchone()
            assert realtime == {"materialized_only": False}
