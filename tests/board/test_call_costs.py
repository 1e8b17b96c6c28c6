"""What a claim and a result cost the server in work it need not do, counted without a clock
(docs/costs.md, "The third round"): no sql function planned again on every call, one outbox row per
topic written by one trigger, and the JSON depth walk kept for documents that could be too deep."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import constants, lifecycle
from tests.conftest import make_agent, make_task

CLAIM = "SELECT id, attempt FROM phoenix.task_claim(%s, 60)"
RESULT = "SELECT 1 FROM phoenix.task_result(%s, %s, %s, '{}', 0.9)"
# PostgreSQL plans a statement with parameters afresh for its first five runs, then settles on a plan
WARM_UP = 6


def test_claim_and_result_call_no_sql_function_that_is_planned_on_each_call(db, url):
    """PostgreSQL inlines a sql function into the statement that calls it, or else plans its body
    again on every call; only the calls it did not inline show in pg_stat_xact_user_functions."""
    agent = make_agent(db, team="iota")
    for _ in range(WARM_UP + 1):
        make_task(db, team="iota")
    with psycopg.connect(url, row_factory=dict_row) as conn:
        # the first calls of each statement in a session plan it (and fold the constants then)
        for _ in range(WARM_UP):
            task = conn.execute(CLAIM, (agent.id,)).fetchone()
            conn.execute(RESULT, (task["id"], agent.id, task["attempt"]))
            conn.commit()
        conn.execute("SET LOCAL track_functions = 'all'")
        task = conn.execute(CLAIM, (agent.id,)).fetchone()
        conn.execute(RESULT, (task["id"], agent.id, task["attempt"]))
        called = conn.execute("SELECT f.funcname, f.calls FROM pg_stat_xact_user_functions f "
                              "JOIN pg_proc p ON p.oid = f.funcid JOIN pg_language l ON l.oid = p.prolang "
                              "WHERE l.lanname = 'sql' ORDER BY 1").fetchall()
        # the same statistics do count the plpgsql functions on the path: the check sees calls
        seen = conn.execute("SELECT count(*) AS n FROM pg_stat_xact_user_functions").fetchone()["n"]
        conn.rollback()
    assert seen > 10
    assert called == []


def test_each_event_writes_its_outbox_rows_in_order(db, sql):
    agent = make_agent(db, team="iota")
    task = make_task(db, team="iota")
    claimed = lifecycle.claim(db, agent.id)
    lifecycle.result(db, claimed.id, agent.id, claimed.attempt, quality=1.0)
    rows = sql.execute("SELECT topic, seq, payload ->> 'kind' AS kind, payload ->> 'status' AS status, "
                       "payload ? 'detail' AS detail FROM phoenix.outbox WHERE task_id = %s ORDER BY id",
                       (task.id,)).fetchall()
    assert [(r["topic"], r["seq"], r["kind"], r["status"], r["detail"]) for r in rows] == [
        ("task.created", 1, "submitted", None, True),
        ("task.updated", 2, "claimed", "claimed", False),
        ("task.completed", 3, "completed", None, True),
        ("task.updated", 3, "completed", "complete", False),
    ]
    triggers = sql.execute("SELECT count(*) AS n FROM pg_trigger WHERE tgrelid = 'phoenix.task_events'::regclass "
                           "AND tgfoid = 'phoenix.outbox_task_event'::regproc").fetchone()["n"]
    assert triggers == 1
    assert sql.execute("SELECT to_regproc('phoenix.outbox_task_updated') AS f").fetchone()["f"] is None


def _output_refused(db, sql, output: object) -> bool:
    """Whether the database refuses ``output`` as a result (SQL directly: the models refuse a deep one first)."""
    agent = make_agent(db, team="iota")
    make_task(db, team="iota")
    task = lifecycle.claim(db, agent.id)
    try:
        sql.execute("SELECT phoenix.task_result(%s, %s, %s, %s::jsonb, 1)",
                    (task.id, agent.id, task.attempt, json.dumps(output)))
    except psycopg.Error as exc:
        assert "nests more than" in str(exc)
        return True
    return False


def nested(depth: int) -> object:
    doc: object = 1
    for _ in range(depth):
        doc = [doc]
    return doc


@pytest.mark.parametrize(("output", "refused"), [
    # more brackets than the limit, none deep: past the cheap bound, the walk measures it
    ({"rows": [[i] for i in range(constants.PAYLOAD_DEPTH_MAX * 2)]}, False),
    # brackets inside strings count toward the bound, never toward the depth
    ({"text": "[{" * constants.PAYLOAD_DEPTH_MAX}, False),
    (nested(constants.PAYLOAD_DEPTH_MAX), False),
    (nested(constants.PAYLOAD_DEPTH_MAX + 1), True),
])
def test_the_depth_limit_holds_past_the_cheap_bound(db, sql, output, refused):
    assert _output_refused(db, sql, output) == refused
