"""Function files are CREATE OR REPLACE: a function whose signature changed needs a migration that
drops the old one, or both would stay (and calls could become ambiguous). These tests hold the
schema's functions to what sql/functions defines."""

from __future__ import annotations

import collections
import re

import psycopg

from phoenix_board.board import migrate


def defined_in_function_files() -> collections.Counter:
    """How many signatures sql/functions creates per function name."""
    return collections.Counter(
        name for f in migrate.functions() for name in re.findall(r"CREATE OR REPLACE FUNCTION phoenix\.(\w+)\(", f.text))


def overloads(url: str) -> collections.Counter:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                            "WHERE n.nspname = 'phoenix'").fetchall()
    return collections.Counter(name for (name,) in rows)


def test_every_function_of_the_files_exists_once_per_signature(fresh_url):
    migrate.migrate(fresh_url)
    in_schema = overloads(fresh_url)
    stale = {name: (in_schema[name], n) for name, n in defined_in_function_files().items() if in_schema[name] != n}
    assert not stale, f"functions with other signatures than sql/functions defines (in schema, in files): {stale}"


def test_an_upgrade_drops_the_signatures_that_changed(fresh_url):
    """A board migrated before 0017 has trust_rate and task_resubmitted with their old arguments."""
    migrate.migrate(fresh_url)
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION phoenix.trust_rate(uuid, float8, float8, uuid, text, uuid, timestamptz, "
                     "jsonb DEFAULT '{}') RETURNS float8 LANGUAGE sql AS 'SELECT 0::float8'")
        conn.execute("CREATE FUNCTION phoenix.task_resubmitted(phoenix.tasks, text, text, text, jsonb, integer, text, "
                     "real, integer, integer, uuid[], timestamptz, integer) RETURNS phoenix.tasks "
                     "LANGUAGE sql AS 'SELECT $1'")
        conn.execute("DELETE FROM phoenix.schema_version WHERE version LIKE '0017%'")
    assert overloads(fresh_url)["trust_rate"] == 2
    report = migrate.migrate(fresh_url)
    assert [m for m in report.migrations if m.startswith("0017")]
    assert overloads(fresh_url)["trust_rate"] == 1
    assert overloads(fresh_url)["task_resubmitted"] == 1


def test_an_upgrade_drops_agent_outcome_of_nine_arguments(fresh_url):
    """agent_outcome took nine arguments until a review's verdict could come with the outcome; its
    function file drops that signature, so a board upgraded from then has one agent_outcome."""
    migrate.migrate(fresh_url)
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION phoenix.agent_outcome(uuid, uuid, boolean, real, real, interval, boolean, text, "
                     "timestamptz) RETURNS void LANGUAGE sql AS ''")
        # the board as it was before the file changed: its recorded checksum is another's
        conn.execute("UPDATE phoenix.schema_functions SET checksum = 'before' WHERE name = '15_agent_outcome.sql'")
    assert overloads(fresh_url)["agent_outcome"] == 2
    report = migrate.migrate(fresh_url)
    assert "15_agent_outcome.sql" in report.functions
    assert overloads(fresh_url)["agent_outcome"] == 1
    with psycopg.connect(fresh_url) as conn:  # a call with nine arguments is not ambiguous
        conn.execute("SELECT phoenix.agent_outcome(gen_random_uuid(), NULL, true, 1, 1, NULL, true, 'x', now())")
