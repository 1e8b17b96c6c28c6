"""A claimed task its agent cannot load fails for good with the reason (issue 12, point 11), on a
real Celery worker: rows the database now refuses are planted by the owner with the limits
trigger disabled inside the planting transaction only, then a pool is started. Each such task
must be claimed once and failed once, for good, with the agent's one-line reason; it is never
held to the end of its lease and claimed again, no agent is blamed, and the good work around it
completes."""

from __future__ import annotations

import json

import pytest

from phoenix_board.board import lifecycle
from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def plant(sql, task_id, *, deadline: str | None = None, payload: str | None = None) -> None:
    """Writes what the limits trigger refuses, as the owner, with the trigger off in this
    transaction only (ALTER TABLE is transactional: no other session ever sees it off)."""
    with sql.transaction():
        sql.execute("ALTER TABLE phoenix.tasks DISABLE TRIGGER tasks_check_limits")
        if deadline is not None:
            sql.execute("UPDATE phoenix.tasks SET deadline = %s::timestamptz WHERE id = %s", (deadline, task_id))
        if payload is not None:
            sql.execute("UPDATE phoenix.tasks SET payload = %s::jsonb WHERE id = %s", (payload, task_id))
        sql.execute("ALTER TABLE phoenix.tasks ENABLE TRIGGER tasks_check_limits")


def test_a_task_the_agent_cannot_load_fails_once_for_good_with_the_reason(pools, db, sql):
    good = [lifecycle.submit(db, {"title": f"good {n}", "team": "iota", "category": "noop", "priority": 10 - n})[0]
            for n in range(3)]
    late = lifecycle.submit(db, {"title": "past year 9999", "team": "iota", "category": "noop"})[0]
    deep = lifecycle.submit(db, {"title": "too deep", "team": "iota", "category": "noop"})[0]
    # psycopg cannot represent a time past year 9999; Python's JSON decoder recurses once per level
    plant(sql, late.id, deadline="10000-01-01T00:00:00Z")
    plant(sql, deep.id, payload='{"a": ' + "[" * 5000 + "]" * 5000 + "}")

    pools.start("iota", agents=1)  # one agent: whatever it fails to load, it claims on past it
    ids = [t.id for t in (*good, late, deep)]
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE id = ANY(%s) "
                                 "AND status IN ('complete', 'failed')", (ids,)).fetchone()["n"] == len(ids),
             timeout=60, what="every task to end")

    for bad, why in ((late, "DataError"), (deep, "RecursionError")):
        row = sql.execute("SELECT status, attempt, last_error FROM phoenix.tasks WHERE id = %s", (bad.id,)).fetchone()
        assert row["status"] == "failed" and row["attempt"] == 1, row
        assert "the agent could not load this task" in row["last_error"] and why in row["last_error"], row
        assert "\n" not in row["last_error"]
        events = sql.execute("SELECT kind, detail FROM phoenix.task_events WHERE task_id = %s ORDER BY at, id",
                             (bad.id,)).fetchall()
        kinds = [e["kind"] for e in events]
        assert kinds.count("claimed") == 1 and kinds.count("failed") == 1, kinds
        assert "lease_expired" not in kinds, kinds
        failed = next(e for e in events if e["kind"] == "failed")
        assert failed["detail"]["final"] is True, json.dumps(failed["detail"])
    assert all(lifecycle.get(db, t.id).status == "complete" for t in good)
    # the row's fault, not the agent's: no failure counted against it
    assert sql.execute("SELECT sum(tasks_failed) AS n FROM phoenix.agents").fetchone()["n"] == 0
    log = pools.log("iota-0")
    assert log.count("cannot be loaded by this agent") == 2, log[-3000:]


def test_a_review_the_agent_cannot_load_does_not_stop_its_work(pools, db, sql):
    """A task in review whose row cannot be loaded: the reviewer skips it in one log line and
    still works the board (the place lapses; the beat ends the task at REVIEW_EXPIRE_SECONDS)."""
    from phoenix_board.board import agents

    executor, _ = agents.register(db, {"codename": "executor", "team": "iota"})
    reviewed = lifecycle.submit(db, {"title": "in review", "team": "iota", "category": "noop", "review_quorum": 1})[0]
    claimed = lifecycle.claim(db, executor.id)
    assert claimed.id == reviewed.id
    lifecycle.result(db, reviewed.id, executor.id, claimed.attempt, {"done": True})
    plant(sql, reviewed.id, deadline="10000-01-01T00:00:00Z")
    good = lifecycle.submit(db, {"title": "good", "team": "iota", "category": "noop"})[0]
    pools.start("iota", agents=1)
    wait_for(lambda: lifecycle.get(db, good.id).status == "complete", timeout=60, what="the good task")
    wait_for(lambda: "a review this agent claimed cannot be loaded, skipped: DataError" in pools.log("iota-0"),
             timeout=30, what="the skip's log line")
