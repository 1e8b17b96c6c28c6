"""Poison input is refused at every door (issue 12, points 11 and 12): a deadline past year 9999
in UTC and payloads past the size and depth limits are refused by the pydantic models with one
line, and by the database itself when an agent calls the agent API in SQL; nothing is written.
Rows stored before the database enforced the limits fail for good when migrating, with the reason,
instead of being claimed again and again."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import constants, errors, lifecycle, migrate, ranking
from tests.conftest import make_agent, make_task, snapshot
from tests.board.conftest import ROLES, refused
from tests.conftest import login

PAST_9999 = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC
SUBMIT = ("SELECT (r.task).id FROM phoenix.task_submit('t', '', NULL, %s::jsonb, NULL, 'alpha_delta', %s, NULL, NULL, "
          "NULL, NULL, %s::timestamptz, NULL, NULL) AS r")


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture
def agent_sql(sql, url):
    for login_url in login(sql, url, ROLES["agent"]):
        with psycopg.connect(login_url, autocommit=True, row_factory=dict_row) as conn:
            yield conn


def as_agent(conn, agent, statement, params=()):
    with conn.transaction():
        conn.execute("SELECT set_config('phoenix.agent_id', %s, true)", (str(agent),))
        return conn.execute(statement, params).fetchone()


def refused_in_sql(sql, conn, agent, statement, params, message):
    before = snapshot(sql)
    with pytest.raises(psycopg.Error) as info:
        as_agent(conn, agent, statement, params)
    assert info.value.sqlstate == "PBIN0"
    assert info.value.diag.message_primary == message
    assert snapshot(sql) == before


@pytest.mark.rolled_back
def test_a_deadline_past_year_9999_is_refused_at_the_door(db, sql):
    refused(sql, errors.InvalidInput, "^deadline must be before 9999-01-01T00:00:00Z$",
            lambda: lifecycle.submit(db, {"title": "t", "team": "alpha_delta", "deadline": PAST_9999}))


def test_a_deadline_past_year_9999_is_refused_by_the_database(db, sql, agent_sql):
    a = make_agent(db)
    refused_in_sql(sql, agent_sql, a.id, SUBMIT, ("{}", a.id, PAST_9999),
                   "deadline must be before 9999-01-01T00:00:00Z; give an earlier deadline or none")
    # the latest deadline allowed is stored and read back, and the board lists it
    t = make_task(db, deadline="9998-12-31T23:59:59+00:00")
    assert lifecycle.get(db, t.id).deadline.year == 9998
    assert t.id in [row["id"] for row in ranking.page(db, "new", team="alpha_delta")[0]]


@pytest.mark.parametrize("payload,message", [
    (json.dumps({"blob": "x" * 20_000_000}), "payload is 20000012 bytes as stored; the limit is 4194304"),
    ('{"a": %s}' % deep(2999), "payload nests more than 32 levels of objects and arrays"),
    ('{"a": %s}' % deep(32), "payload nests more than 32 levels of objects and arrays"),
    ("[1]", "payload must be a JSON object"),  # agents load it as an object
])
def test_payload_size_and_depth_are_enforced_by_the_database(db, sql, agent_sql, payload, message):
    a = make_agent(db)
    refused_in_sql(sql, agent_sql, a.id, SUBMIT, (payload, a.id, None), message)


def test_an_output_past_the_limits_is_refused_by_the_database(db, sql, agent_sql):
    a = make_agent(db)
    make_task(db)
    t = lifecycle.claim(db, a.id)
    refused_in_sql(sql, agent_sql, a.id, "SELECT id FROM phoenix.task_result(%s, %s, %s, %s::jsonb, NULL)",
                   (t.id, a.id, t.attempt, deep(40)), "output nests more than 32 levels of objects and arrays")


@pytest.mark.rolled_back
def test_the_database_accepts_everything_the_models_accept(db, sql):
    # 32 levels, and the largest numbers: ~9,000 of them fill 64 KB as compact JSON but 45 times that
    # in PostgreSQL's text form, which writes every digit
    nested: object = 1
    for _ in range(constants.PAYLOAD_DEPTH_MAX - 1):
        nested = [nested]
    n = (constants.PAYLOAD_MAX_BYTES - 500) // len(json.dumps(1.7e308) + ", ")
    payload = {"deep": nested, "big": [1.7e308] * n}
    t = make_task(db, payload=payload)  # within the models' limits, so the database must take it
    got = lifecycle.get(db, t.id).payload
    assert got["deep"] == nested and len(got["big"]) == n
    stored = sql.execute("SELECT octet_length(payload::text) AS n FROM phoenix.tasks WHERE id = %s", (t.id,)).fetchone()["n"]
    assert constants.PAYLOAD_MAX_BYTES * 30 < stored <= constants.PAYLOAD_STORED_MAX_BYTES


@pytest.mark.rolled_back
def test_jsonb_depth_counts_levels_of_objects_and_arrays(sql):
    cases = {"1": 0, '"x"': 0, "{}": 1, "[]": 1, '{"a": [1, {"b": []}]}': 4, deep(3000): 3000}
    for doc, depth in cases.items():
        assert sql.execute("SELECT phoenix.jsonb_depth(%s::jsonb) AS d", (doc,)).fetchone()["d"] == depth
    assert sql.execute("SELECT phoenix.jsonb_depth(%s::jsonb, 32) AS d", (deep(3000),)).fetchone()["d"] == 33


def test_rows_stored_before_the_limits_fail_for_good_when_migrating(fresh_url, monkeypatch):
    real = migrate.migrations()
    # the schema before 0013, without the functions (they are written for the schema after it)
    with monkeypatch.context() as before:
        before.setattr(migrate, "migrations", lambda: [m for m in real if not m.name.startswith("0013_")])
        before.setattr(migrate, "functions", lambda: [])
        before.setattr(migrate, "security_sql", lambda prefix=None: migrate.SqlFile("none", "SELECT 1"))
        migrate.migrate(fresh_url)
    with psycopg.connect(fresh_url, autocommit=True, row_factory=dict_row) as conn:
        # what the board held before: the database did not check these
        ids = {}
        for name, deadline, payload, status in [("late", PAST_9999, "{}", "open"), ("deep", None, '{"a": %s}' % deep(3000), "open"),
                                                ("done", PAST_9999, "{}", "complete"), ("fine", None, "{}", "open"),
                                                ("list", None, "[1]", "open")]:
            ids[name] = conn.execute(
                "INSERT INTO phoenix.tasks (title, team, deadline, payload, status) "
                "VALUES (%s, 'iota', %s, %s::jsonb, %s) RETURNING id", (name, deadline, payload, status)).fetchone()["id"]
        ids["waits"] = conn.execute(
            "INSERT INTO phoenix.tasks (title, team, depends_on, pending_deps) VALUES ('waits', 'iota', %s, 1) "
            "RETURNING id", ([ids["late"]],)).fetchone()["id"]
        conn.execute("UPDATE phoenix.tasks SET blocks = %s WHERE id = %s", ([ids["waits"]], ids["late"]))
    migrate.migrate(fresh_url)
    with psycopg.connect(fresh_url, autocommit=True, row_factory=dict_row) as conn:
        rows = {r["title"]: r for r in conn.execute(
            "SELECT title, status::text, last_error, deadline FROM phoenix.tasks").fetchall()}
    assert rows["late"]["status"] == "failed" and rows["late"]["deadline"] is None
    assert rows["late"]["last_error"] == "cannot be loaded: its deadline is past year 9999 in UTC, which cannot be read back"
    assert (rows["deep"]["status"], rows["deep"]["last_error"]) == ("failed", "cannot be loaded: its payload nests more than 32 levels")
    assert (rows["done"]["status"], rows["done"]["deadline"]) == ("complete", None)
    assert rows["fine"]["status"] == "open"
    assert (rows["list"]["status"], rows["list"]["last_error"]) == ("failed", "cannot be loaded: its payload is not a JSON object")
    assert (rows["waits"]["status"], rows["waits"]["last_error"]) == ("failed", f"dependency {ids['late']} failed")
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'tasks_check_limits'").fetchone()[0] == 1
        # the dependency arrays became links (issue 12 point 15), and the array column is gone
        assert conn.execute("SELECT task_id, depends_on FROM phoenix.task_dependencies").fetchall() == [
            (ids["waits"], ids["late"])]
        assert conn.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'phoenix.tasks'::regclass "
                            "AND attname = 'blocks' AND NOT attisdropped").fetchone()[0] == 0
