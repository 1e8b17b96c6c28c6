"""What a claim and a result cost the server in work it need not do, counted without a clock
(docs/costs.md, "The third round"): no sql function planned again on every call, one outbox row per
topic written by one trigger, and the JSON depth walk kept for documents that could be too deep."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import constants, errors, lifecycle, outbox
from phoenix_board.board.db import translate as db_translate
from tests.conftest import make_agent, make_task
from tests.workers.stream.conftest import submit

CLAIM = "SELECT id, attempt FROM phoenix.task_claim(%s, 60)"
RESULT = "SELECT 1 FROM phoenix.task_result(%s, %s, %s, '{}', 0.9)"
HEARTBEAT = "SELECT 1 FROM phoenix.agent_heartbeat(%s)"
# PostgreSQL plans a statement with parameters afresh for its first five runs, then settles on a plan
WARM_UP = 6


def _sql_functions_called(conn: psycopg.Connection) -> list[dict]:
    """The sql functions this transaction called without inlining them (track_functions = 'all')."""
    return conn.execute("SELECT f.funcname, f.calls FROM pg_stat_xact_user_functions f "
                        "JOIN pg_proc p ON p.oid = f.funcid JOIN pg_language l ON l.oid = p.prolang "
                        "WHERE l.lanname = 'sql' ORDER BY 1").fetchall()


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
        called = _sql_functions_called(conn)
        # the same statistics do count the plpgsql functions on the path: the check sees calls
        seen = conn.execute("SELECT count(*) AS n FROM pg_stat_xact_user_functions").fetchone()["n"]
        conn.rollback()
    assert seen > 10
    assert called == []


START = "SELECT id, attempt FROM phoenix.task_claim_start(%s, 60)"
RESULT_NEXT = "SELECT id, attempt, status::text FROM phoenix.task_result_claim_next(%s, %s, %s, '{}', 0.9, 60)"


def test_a_submission_and_the_agent_loop_call_no_sql_function_that_is_planned_on_each_call(db, url):
    """What the queue's agents call per task: a submission, the first claim of the loop, then a
    result with the next claim. claim_key was declared IMMUTABLE over a STABLE body and
    task_claim_start was a volatile sql function: neither was ever inlined (the fifth round)."""
    first, second = make_agent(db, team="alpha_delta"), make_agent(db, team="alpha_delta")
    with psycopg.connect(url, row_factory=dict_row) as conn:
        for _ in range(2 * WARM_UP + 4):
            submit(conn)
        conn.commit()
        task = conn.execute(START, (first.id,)).fetchone()
        for _ in range(WARM_UP):
            submit(conn)
            task = conn.execute(RESULT_NEXT, (task["id"], first.id, task["attempt"])).fetchall()[-1]
            conn.commit()
        conn.execute("SET LOCAL track_functions = 'all'")
        submit(conn)
        rows = conn.execute(RESULT_NEXT, (task["id"], first.id, task["attempt"])).fetchall()
        assert [r["status"] for r in rows] == ["complete", "in_progress"]
        assert conn.execute(START, (second.id,)).fetchone() is not None
        called = _sql_functions_called(conn)
        seen = conn.execute("SELECT count(*) AS n FROM pg_stat_xact_user_functions").fetchone()["n"]
        conn.rollback()
    assert seen > 10
    assert called == []


def test_a_claim_reads_the_claim_order_and_never_sorts_the_open_tasks(db, url):
    """An agent's session plans its claim once (a generic plan) and keeps it. Planned with the
    statistics of a board of a few hundred open tasks, it used to fetch every available task of
    the team through tasks_claimable_age_idx and sort them all, on every claim (788 rows a claim in
    bench e2e). With sorting off for the claim it reads tasks_claim_idx in claim order and stops at
    the first task it can take."""
    agent = make_agent(db, team="alpha_delta")
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        for _ in range(300):
            submit(conn)
        conn.execute("ANALYZE phoenix.tasks")  # what autovacuum does on a board that grew
        task = conn.execute(START, (agent.id,)).fetchone()  # the session's plan, made now
        for _ in range(300):
            submit(conn)
        read = ("SELECT pg_stat_get_xact_numscans('phoenix.tasks_claimable_age_idx'::regclass) AS age_scans, "
                "pg_stat_get_xact_tuples_returned('phoenix.tasks_claim_idx'::regclass) AS claim_entries")
        with conn.transaction():
            rows = conn.execute(RESULT_NEXT, (task["id"], agent.id, task["attempt"])).fetchall()
            assert [r["status"] for r in rows] == ["complete", "in_progress"]
            scanned = conn.execute(read).fetchone()
    assert scanned["age_scans"] == 0 and scanned["claim_entries"] <= 3, scanned


def test_each_event_writes_its_outbox_rows_in_order(db, sql):
    agent = make_agent(db, team="iota")
    task = make_task(db, team="iota")
    claimed = lifecycle.claim(db, agent.id)
    lifecycle.result(db, claimed.id, agent.id, claimed.attempt, quality=1.0)
    # the rows name their event and keep the status; the relay builds the payloads when it assigns
    # their entry ids (migration 0033)
    written = sql.execute("SELECT topic, seq, status::text, payload IS NULL AS bare FROM phoenix.outbox "
                          "WHERE task_id = %s ORDER BY id", (task.id,)).fetchall()
    assert [(r["topic"], r["seq"], r["status"], r["bare"]) for r in written] == [
        ("task.created", 1, None, True),
        ("task.updated", 2, "claimed", True),
        ("task.completed", 3, None, True),
        ("task.updated", 3, "complete", True),
    ]
    outbox.assign(sql)
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


def test_an_assigned_task_event_carries_the_whole_payload_of_its_event(db, sql):
    """What an entry says is what the trigger used to copy into the row: built at assignment from
    the event and the task, value for value."""
    agent = make_agent(db, team="iota")
    task = make_task(db, team="iota", title="build it at assignment")
    claimed = lifecycle.claim(db, agent.id)
    lifecycle.result(db, claimed.id, agent.id, claimed.attempt, {"n": 1}, quality=0.5)
    # one narrow row per entry until then: no copy of the event (about 250 bytes of it before 0033)
    widest = sql.execute("SELECT max(pg_column_size(o.*)) AS n FROM phoenix.outbox o WHERE task_id = %s",
                         (task.id,)).fetchone()["n"]
    assert widest < 120
    assert outbox.assign(sql) >= 4
    events = {e["seq"]: e for e in sql.execute(
        "SELECT id, seq, kind, agent_id, attempt, detail FROM phoenix.task_events WHERE task_id = %s",
        (task.id,)).fetchall()}
    rows = sql.execute("SELECT topic, seq, payload FROM phoenix.outbox WHERE task_id = %s ORDER BY id",
                       (task.id,)).fetchall()
    for row in rows:
        e = events[row["seq"]]
        expected = {"task_event_id": e["id"], "kind": e["kind"],
                    "agent_id": str(e["agent_id"]) if e["agent_id"] else None, "attempt": e["attempt"],
                    "team": "iota", "category": task.category, "title": "build it at assignment"}
        if row["topic"] == "task.updated":
            expected["status"] = {"claimed": "claimed", "completed": "complete"}[e["kind"]]
        else:
            expected["detail"] = e["detail"]
        assert row["payload"] == expected, row["topic"]


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


# The row checks that moved from CHECK constraints to triggers (migrations 0031 and 0035): each
# rule, its name and its error stay; a claim and a result no longer pay for them.
TASK_RULES = {  # constraint: a column set to a value that breaks it
    "tasks_category_format": ("category", "'Bad Category'"),
    "tasks_child_has_key": ("child_key", "'orphan'"),
    "tasks_concurrency_key_length": ("concurrency_key", "''"),
    "tasks_concurrency_limit_range": ("concurrency_limit", "0"),
    "tasks_concurrency_pair": ("concurrency_limit", "3"),
    "tasks_depth_range": ("depth", "-1"),
    "tasks_description_length": ("description", f"repeat('x', {constants.DESCRIPTION_MAX + 1})"),
    "tasks_dopamine_reward_range": ("dopamine_reward", f"{constants.DOPAMINE_REWARD_MAX + 1}"),
    "tasks_fibonacci_size": ("fibonacci_size", "4"),
    "tasks_idempotency_key_length": ("idempotency_key", f"repeat('k', {constants.IDEMPOTENCY_KEY_MAX + 1})"),
    "tasks_join_k_range": ("join_k", "0"),
    "tasks_max_attempts_range": ("max_attempts", f"{constants.MAX_ATTEMPTS_MAX + 1}"),
    "tasks_on_child_failure": ("on_child_failure", "'shrug'"),
    "tasks_priority_range": ("priority", f"{constants.PRIORITY_MAX + 1}"),
    "tasks_review_quorum_range": ("review_quorum", f"{constants.REVIEW_QUORUM_MAX + 1}"),
    "tasks_title_length": ("title", "''"),
    "tasks_tree_consistent": ("depth", "1"),
}
# ...and the counters' rules, moved by migration 0035 to a trigger of their own
COUNTER_RULES = {
    "tasks_children_done_check": ("children_done", "-1"),
    "tasks_children_failed_check": ("children_failed", "-1"),
    "tasks_children_total_check": ("children_total", "-1"),
    "tasks_comment_count_check": ("comment_count", "-1"),
    "tasks_descendants_check": ("descendants", "-1"),
    "tasks_downvotes_check": ("downvotes", "-1"),
    "tasks_join_counts": ("children_done", "1"),  # one child done of none
    "tasks_pending_deps_check": ("pending_deps", "-1"),
    "tasks_upvotes_check": ("upvotes", "-1"),
}
AGENT_RULES = {
    "agents_codename_format": ("codename", "'-bad'"),
    "agents_kind": ("kind", "'robot'"),
    "agents_not_own_partner": ("paired_agents", "ARRAY[id]"),
    "agents_not_own_supervisor": ("supervisor_agent", "id"),
    "agents_role_length": ("role", f"repeat('r', {constants.ROLE_MAX + 1})"),
    # the outcome columns' rules (migration 0035)
    "agents_fibonacci_level_check": ("fibonacci_level", "0"),
    # a hormone that is not a number
    "agents_hormones_shape": ("hormone_levels", "jsonb_set(hormone_levels, '{cortisol}', '\"high\"')"),
    # a hormone missing: a NULL passed the CHECK this rule was before 0035; the trigger refuses it
    "agents_hormones_shape/missing": ("hormone_levels", "hormone_levels - 'oxytocin'"),
    "agents_success_rate_check": ("success_rate", "1.5"),
    "agents_tasks_completed_check": ("tasks_completed", "-1"),
    "agents_tasks_failed_check": ("tasks_failed", "-1"),
    "agents_trust_r": ("trust_r", "-0.5"),
    "agents_trust_range": ("trust_coefficient", "1.5"),
    "agents_trust_s": ("trust_s", "-0.5"),
}


@pytest.mark.parametrize("constraint", sorted(TASK_RULES) + sorted(COUNTER_RULES) + sorted(AGENT_RULES))
def test_a_row_check_refuses_as_its_constraint_did_and_changes_nothing(db, sql, constraint):
    agent = make_agent(db, team="iota")
    task = make_task(db, team="iota")
    table, key = ("agents", agent.id) if constraint in AGENT_RULES else ("tasks", task.id)
    column, value = (TASK_RULES | COUNTER_RULES | AGENT_RULES)[constraint]
    before = sql.execute(f"SELECT * FROM phoenix.{table} WHERE id = %s", (key,)).fetchone()
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        sql.execute(f"UPDATE phoenix.{table} SET {column} = {value} WHERE id = %s", (key,))
    assert caught.value.diag.constraint_name == constraint.split("/")[0]
    assert caught.value.diag.table_name == table
    assert sql.execute(f"SELECT * FROM phoenix.{table} WHERE id = %s", (key,)).fetchone() == before
    # and the board still reads it as bad input (by the constraint's name where it has a message)
    assert isinstance(db_translate(caught.value), errors.InvalidInput)


def test_an_insert_meets_the_row_checks_too(sql, db):
    agent = make_agent(db, team="iota")
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        sql.execute("INSERT INTO phoenix.tasks (title, team, created_by) VALUES (repeat('t', 201), 'iota', %s)",
                    (agent.id,))
    assert caught.value.diag.constraint_name == "tasks_title_length"
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        sql.execute("INSERT INTO phoenix.tasks (title, team, created_by, pending_deps) VALUES ('t', 'iota', %s, -1)",
                    (agent.id,))
    assert caught.value.diag.constraint_name == "tasks_pending_deps_check"
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        sql.execute("INSERT INTO phoenix.agents (codename, team) VALUES ('ok-name', 'iota'), ('/bad', 'iota')")
    assert caught.value.diag.constraint_name == "agents_codename_format"
    assert sql.execute("SELECT count(*) AS n FROM phoenix.agents WHERE codename = 'ok-name'").fetchone()["n"] == 0


def test_claim_and_result_fire_no_row_check_and_prepare_few_check_constraints(db, url, sql):
    """PostgreSQL prepares every CHECK of a table for each statement that writes a row: the rules of
    columns a claim and a result never set are row checks, whose triggers fire only when a statement
    sets one of their columns. A claim (and a heartbeat) fires none; a result, which moves the
    agent's outcome columns, fires only the check of those (migration 0035)."""
    agent = make_agent(db, team="iota")
    make_task(db, team="iota")
    checks = ("tasks_check_row", "tasks_check_counts", "agents_check_row", "agents_check_outcome", "check_failed")
    fired_by = {}
    with psycopg.connect(url, row_factory=dict_row) as conn:
        conn.execute("SET LOCAL track_functions = 'all'")

        def fired() -> dict[str, int]:
            rows = conn.execute("SELECT funcname, calls FROM pg_stat_xact_user_functions WHERE funcname = ANY (%s)",
                                (list(checks),)).fetchall()
            return {r["funcname"]: r["calls"] for r in rows}

        task = conn.execute(CLAIM, (agent.id,)).fetchone()
        conn.execute(HEARTBEAT, (agent.id,))
        fired_by["claim and heartbeat"] = fired()
        conn.execute(RESULT, (task["id"], agent.id, task["attempt"]))
        fired_by["result"] = fired()
        conn.rollback()
    assert fired_by == {"claim and heartbeat": {}, "result": {"agents_check_outcome": 1}}
    left = sql.execute("SELECT conrelid::regclass::text AS t, count(*) AS n FROM pg_constraint WHERE contype = 'c' "
                       "AND conrelid IN ('phoenix.tasks'::regclass, 'phoenix.agents'::regclass) GROUP BY 1").fetchall()
    assert {r["t"]: r["n"] for r in left} == {"phoenix.tasks": 4}


# A column an index reads: a key, or named in its predicate or its expressions (what keeps an
# update that changes it from being HOT)
INDEXED_COLUMNS = """
SELECT DISTINCT a.attname AS name
  FROM pg_index i
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0
 WHERE i.indrelid = 'phoenix.tasks'::regclass
   AND (a.attnum = ANY (i.indkey)
        OR pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M')
        OR pg_get_expr(i.indexprs, i.indrelid) ~ ('\\m' || a.attname || '\\M'))
"""


@pytest.mark.rolled_back
def test_a_lease_renewal_changes_no_column_an_index_of_the_task_row_reads(db, sql):
    """A renewal sets only lease_expires_at, which no index of the task row reads since migration
    0037 (tasks_lease_idx had it as its key): so PostgreSQL may update the row in place (HOT), with
    no entry in any of its indexes, where each renewal wrote the row and five or so entries."""
    agent = make_agent(db, team="iota")
    make_task(db, team="iota", idempotency_key="renewed")  # in the idempotency indexes too
    task = lifecycle.claim_start(db, agent.id)
    row = "SELECT * FROM phoenix.tasks WHERE id = %s"
    before = sql.execute(row, (task.id,)).fetchone()
    lifecycle.renew(db, task.id, agent.id, task.attempt, lease_seconds=60, now=task.claimed_at + timedelta(seconds=5))
    after = sql.execute(row, (task.id,)).fetchone()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"lease_expires_at"}
    indexed = {r["name"] for r in sql.execute(INDEXED_COLUMNS).fetchall()}
    assert {"status", "team", "claim_key", "id"} <= indexed  # the query finds what the indexes read
    assert changed & indexed == set()
    # and so the renewal was a HOT update (the new version fits on the page: it was just written)
    hot = sql.execute("SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = 'phoenix.tasks'::regclass").fetchone()
    assert hot["n_tup_hot_upd"] >= 1
