"""What a step writes, counted in its own transaction (docs/costs.md, "The second round"): a result
updates its agent's row once, and a status change appends one task-count delta row."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import agents, lifecycle
from tests.conftest import make_agent, make_task


def _xact_updates(conn: psycopg.Connection, table: str) -> int:
    """Rows of ``table`` this transaction has updated so far (PostgreSQL's per-transaction statistics)."""
    return conn.execute("SELECT pg_stat_get_xact_tuples_updated(%s::regclass) AS n", (table,)).fetchone()["n"]


@pytest.mark.parametrize("outcome", ["result", "fail"])
def test_an_outcome_updates_the_agent_row_once_and_rates_it(db, url, outcome):
    agent = make_agent(db, team="iota")
    make_task(db, team="iota")
    task = lifecycle.claim(db, agent.id)
    before = agents.get(db, agent.id)
    with psycopg.connect(url, row_factory=dict_row) as conn:  # the outcome's own transaction
        if outcome == "result":
            conn.execute("SELECT phoenix.task_result(%s, %s, %s, '{}', 0.8)", (task.id, agent.id, task.attempt))
        else:
            conn.execute("SELECT phoenix.task_fail(%s, %s, %s, 'boom')", (task.id, agent.id, task.attempt))
        # counters, hormones, trust and the freed claim in one update
        assert _xact_updates(conn, "phoenix.agents") == 1
        # a second update of a row this transaction wrote would check its team key again, locking the team's row
        locked = conn.execute("SELECT xmax = txid_current()::text::xid AS mine FROM phoenix.teams WHERE name = 'iota'")
        assert not locked.fetchone()["mine"]
        conn.commit()
    after = agents.get(db, agent.id)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rated = conn.execute("SELECT trust_r, trust_s, trust_coefficient FROM phoenix.agents WHERE id = %s",
                             (agent.id,)).fetchone()
        rating = conn.execute("SELECT interaction_type, trust_delta, success, metadata FROM phoenix.agent_interactions "
                              "WHERE agent_to = %s ORDER BY seq DESC LIMIT 1", (agent.id,)).fetchone()
    # the beta model's value of the stored evidence, moved away from 0.5 the right way
    assert rated["trust_coefficient"] == pytest.approx((rated["trust_r"] + 1) / (rated["trust_r"] + rated["trust_s"] + 2))
    assert rating["interaction_type"] == "outcome" and rating["success"] == (outcome == "result")
    assert rating["trust_delta"] == pytest.approx(after.trust_coefficient - before.trust_coefficient)
    assert (rating["trust_delta"] > 0) == (outcome == "result")
    assert set(rating["metadata"]) >= {"positive", "negative", "quality", "reason"}
    if outcome == "result":
        assert (after.tasks_completed, after.current_task) == (before.tasks_completed + 1, None)
    else:
        assert (after.tasks_failed, after.current_task) == (before.tasks_failed + 1, None)


def test_a_status_change_appends_one_delta_row_read_as_two_signed_sides(db, sql):
    agent = make_agent(db, team="iota")
    task = make_task(db, team="iota")
    sql.execute("DELETE FROM phoenix.task_count_deltas")
    lifecycle.claim(db, agent.id)
    rows = sql.execute("SELECT team, status::text, tasks, attempts, lease_expiries, from_status::text, from_attempts "
                       "FROM phoenix.task_count_deltas").fetchall()
    assert rows == [{"team": "iota", "status": "claimed", "tasks": 1, "attempts": 1, "lease_expiries": 0,
                     "from_status": "open", "from_attempts": 0}]
    sides = sql.execute("SELECT team, status::text, tasks, attempts FROM phoenix.task_count_changes "
                        "ORDER BY tasks").fetchall()
    assert sides == [{"team": "iota", "status": "open", "tasks": -1, "attempts": 0},
                     {"team": "iota", "status": "claimed", "tasks": 1, "attempts": 1}]
    # a move to another team has two teams to count: the two rows it always wrote
    sql.execute("DELETE FROM phoenix.task_count_deltas")
    sql.execute("UPDATE phoenix.tasks SET team = 'alpha_delta' WHERE id = %s", (task.id,))
    moved = sql.execute("SELECT team, status::text, tasks, attempts FROM phoenix.task_count_changes "
                        "ORDER BY team").fetchall()
    assert moved == [{"team": "alpha_delta", "status": "claimed", "tasks": 1, "attempts": 1},
                     {"team": "iota", "status": "claimed", "tasks": -1, "attempts": -1}]
    assert sql.execute("SELECT count(*) AS n FROM phoenix.task_count_deltas").fetchone()["n"] == 2


def test_a_submission_with_flow_fields_writes_its_row_once(url):
    """task_submit stores the time and the concurrency key in the insert that makes the task: no
    second version of the row (task_submit_flow used to update the row it had just inserted)."""
    with psycopg.connect(url) as conn:  # one transaction: its own statistics, nobody else's
        conn.execute("SELECT * FROM phoenix.task_submit('later', '', NULL, '{}', NULL, 'iota', NULL, NULL, NULL, NULL, "
                     "'{}', NULL, NULL, 'k-later', NULL, false, %s, 'gpu', 2)", (datetime(2030, 1, 1, 13, 0, tzinfo=UTC),))
        ins, upd = conn.execute("SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables "
                                "WHERE relid = 'phoenix.tasks'::regclass").fetchone()
        row = conn.execute("SELECT available_at, concurrency_key, concurrency_limit FROM phoenix.tasks "
                           "WHERE idempotency_key = 'k-later'").fetchone()
        slots = conn.execute("SELECT count(*) FROM phoenix.concurrency_slots WHERE key = 'gpu'").fetchone()[0]
    assert (ins, upd) == (1, 0)
    assert row == (datetime(2030, 1, 1, 13, 0, tzinfo=UTC), "gpu", 2) and slots == 2
