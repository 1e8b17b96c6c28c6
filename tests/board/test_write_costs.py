"""What a step writes, counted in its own transaction (docs/costs.md, "The second round" and "A review
updates its executor's row once"): a result and a review verdict update the executor's row once,
and a status change appends one task-count delta row."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from phoenix_board.board import agents, audit, lifecycle
from tests.conftest import make_agent, make_task

REVIEW = "SELECT decided FROM phoenix.task_review(%s, %s, %s, 'why')"


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


def _in_review(db, executor, quorum: int, reward: float = 1.0):
    """A task of the executor's team, claimed and submitted for review with quality 0.9."""
    make_task(db, team=executor.team, review_quorum=quorum, dopamine_reward=reward)
    task = lifecycle.claim(db, executor.id)
    return lifecycle.result(db, task.id, executor.id, task.attempt, {"done": True}, 0.9)


def _team_row_locked(conn: psycopg.Connection, team: str) -> bool:
    """Whether this transaction took a lock on the team's row (a second update of an agent row
    checks its team key again: a key-share lock, which leaves the transaction's id in xmax)."""
    locked = conn.execute("SELECT xmax = txid_current()::text::xid AS mine FROM phoenix.teams WHERE name = %s", (team,))
    return locked.fetchone()["mine"]


def _latest_rating(url: str, agent) -> dict:
    """The newest row of the agent's trust chain."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT agent_from, interaction_type, task_id, trust_delta, success, metadata "
                            "FROM phoenix.agent_interactions WHERE agent_to = %s ORDER BY seq DESC LIMIT 1",
                            (agent,)).fetchone()


@pytest.mark.parametrize("verdict", [1, -1])
def test_a_deciding_review_updates_the_executor_row_once(db, url, verdict):
    executor = make_agent(db, team="iota")
    reviewer = make_agent(db, team="iota")
    task = _in_review(db, executor, quorum=1)
    before = agents.get(db, executor.id)
    with psycopg.connect(url, row_factory=dict_row) as conn:  # the verdict's own transaction
        decided = conn.execute(REVIEW, (task.id, reviewer.id, verdict)).fetchone()["decided"]
        assert decided == ("approved" if verdict > 0 else "rejected")
        # the executor's row once (the verdict's hormones, the rating, the outcome), and the
        # reviewer's once (its consensus rating); the executor's alone were three updates before
        assert _xact_updates(conn, "phoenix.agents") == 2
        assert not _team_row_locked(conn, "iota")
        conn.commit()
    after = agents.get(db, executor.id)
    rating = _latest_rating(url, executor.id)
    assert (rating["agent_from"], rating["interaction_type"], rating["task_id"]) == (reviewer.id, "review", task.id)
    assert rating["success"] == (verdict > 0) and rating["metadata"]["attempt"] == task.attempt
    # the rating is the whole of the trust's move: the outcome after a review rates nothing
    assert rating["trust_delta"] == pytest.approx(after.trust_coefficient - before.trust_coefficient)
    assert (rating["trust_delta"] > 0) == (verdict > 0)
    if verdict > 0:
        assert after.tasks_completed == before.tasks_completed + 1
    else:
        assert after.tasks_failed == before.tasks_failed + 1


def test_a_verdict_that_decides_nothing_updates_the_executor_row_once(db, url):
    executor = make_agent(db, team="iota")
    reviewer = make_agent(db, team="iota")
    task = _in_review(db, executor, quorum=2)
    before = agents.get(db, executor.id)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        assert conn.execute(REVIEW, (task.id, reviewer.id, 1)).fetchone()["decided"] is None
        # the verdict's hormones and its rating together; nobody else's row
        assert _xact_updates(conn, "phoenix.agents") == 1
        assert not _team_row_locked(conn, "iota")
        conn.commit()
    after = agents.get(db, executor.id)
    rating = _latest_rating(url, executor.id)
    assert (rating["agent_from"], rating["interaction_type"]) == (reviewer.id, "review")
    assert rating["trust_delta"] == pytest.approx(after.trust_coefficient - before.trust_coefficient)
    assert rating["trust_delta"] > 0
    assert after.hormone_levels.oxytocin > before.hormone_levels.oxytocin
    assert (after.tasks_completed, after.tasks_failed) == (before.tasks_completed, before.tasks_failed)


# The executor's columns that a review moves, and what its rows record. The expected values are
# those of the sequence of calls a review made before it wrote the executor's row once:
# agent_hormones_add (the verdict's hormones), trust_rate (the reviewer's rating), then, when the
# verdict decided, agent_outcome (counters and the outcome's hormones, no rating of its own; called
# without a prior event it is what it was, which the outcome test above and the result tests hold).
# The rating's weight is the one the verdict recorded (task_reviews.weight: the reviewer's trust
# when it gave it); a decision has rated the reviewer's consensus since.
AGENT_COLUMNS = ("hormone_levels, trust_r, trust_s, trust_coefficient, tasks_completed, tasks_failed, success_rate, "
                 "average_response_time, fibonacci_level")
OLD_HORMONES = "SELECT phoenix.agent_hormones_add(%(twin)s, phoenix.hormone_response(%(event)s))"
OLD_RATING = """
    SELECT phoenix.trust_rate(%(twin)s, e.positive, e.negative, %(reviewer)s, 'review', %(task)s, now(),
                              jsonb_build_object('attempt', %(attempt)s))
      FROM phoenix.task_reviews r, phoenix.trust_evidence(%(event)s, r.weight) AS e
     WHERE r.task_id = %(task)s AND r.attempt = %(attempt)s AND r.agent_id = %(reviewer)s
"""
OLD_OUTCOME = """
    SELECT phoenix.agent_outcome(%(twin)s, t.id, %(approved)s,
                                 CASE WHEN %(approved)s THEN t.quality_score END,
                                 CASE WHEN %(approved)s THEN t.dopamine_reward END,
                                 CASE WHEN %(approved)s THEN t.completed_at - t.claimed_at END,
                                 false, %(decided)s, now())
      FROM phoenix.tasks t WHERE t.id = %(task)s
"""


def _moved(conn: psycopg.Connection, agent) -> dict:
    """What a review wrote about one agent: its row's columns, its ratings and its cascades."""
    row = conn.execute(f"SELECT {AGENT_COLUMNS} FROM phoenix.agents WHERE id = %s", (agent,)).fetchone()
    ratings = conn.execute("SELECT seq, agent_from, interaction_type, task_id, trust_delta, hormone_exchange, success, "
                           "metadata, at FROM phoenix.agent_interactions WHERE agent_to = %s ORDER BY seq",
                           (agent,)).fetchall()
    cascades = conn.execute("SELECT kind, hormone, intensity, task_id, created_at FROM phoenix.hormone_cascades "
                            "WHERE sources = ARRAY[%s]::uuid[] ORDER BY created_at, hormone, intensity",
                            (agent,)).fetchall()
    return {"row": row, "ratings": ratings, "cascades": cascades}


@pytest.mark.parametrize(("verdicts", "levels", "decided"), [
    # the deciding verdict rejects, the weighted sum approves: the rejection's cortisol, clamped at
    # the maximum, then the completion's relief. Added together, clamped once, or in the other
    # order, the cortisol would stay at 5.0; in this order it ends at 4.9
    ((1, -1), {"dopamine": 1.0, "oxytocin": 4.9, "adrenaline": 1.0, "cortisol": 5.0}, "approved"),
    # a rejection and the failure after it: the failure's cortisol moves by 0.4, a cascade of its own
    ((-1,), {"dopamine": 1.0, "oxytocin": 1.0, "adrenaline": 1.0, "cortisol": 0.3}, "rejected"),
    # an approval and a completion whose dopamine (0.5 x reward 2 x quality 0.9) starts a cascade
    ((1,), {"dopamine": 1.0, "oxytocin": 1.0, "adrenaline": 1.0, "cortisol": 0.3}, "approved"),
])
def test_a_review_moves_the_executor_as_its_three_calls_did(db, url, verdicts, levels, decided):
    """Each verdict runs in one transaction with the old sequence of calls on a twin of the
    executor (same columns, no history), so both see the same time; the twin's values are the
    expected ones."""
    executor = make_agent(db, team="iota")
    twin = make_agent(db, team="iota")
    reviewers = [make_agent(db, team="iota") for _ in verdicts]
    task = _in_review(db, executor, quorum=len(verdicts), reward=2.0)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        # the first reviewer's weight outweighs the second's, so (+1, -1) approves
        conn.execute("UPDATE phoenix.agents SET trust_coefficient = 0.9 WHERE id = %s", (reviewers[0].id,))
        conn.execute("UPDATE phoenix.agents SET hormone_levels = %s, trust_r = 3.5, trust_s = 1.25, "
                     "trust_coefficient = 0.7, tasks_completed = 4, tasks_failed = 1, success_rate = 0.8, "
                     "average_response_time = interval '2 minutes', fibonacci_level = 3 WHERE id = ANY (%s)",
                     (Jsonb(levels), [executor.id, twin.id]))
        conn.commit()
        for i, (reviewer, verdict) in enumerate(zip(reviewers, verdicts, strict=True)):
            got = conn.execute(REVIEW, (task.id, reviewer.id, verdict)).fetchone()["decided"]
            old = {"twin": twin.id, "reviewer": reviewer.id, "task": task.id, "attempt": task.attempt,
                   "event": "approved" if verdict > 0 else "rejected", "decided": got, "approved": got == "approved"}
            conn.execute(OLD_HORMONES, old)
            conn.execute(OLD_RATING, old)
            if i == len(verdicts) - 1:
                assert got == decided
                conn.execute(OLD_OUTCOME, old)
            else:
                assert got is None
            conn.commit()
        moved, expected = _moved(conn, executor.id), _moved(conn, twin.id)
    assert moved == expected
    assert len(moved["ratings"]) == len(verdicts) and {r["interaction_type"] for r in moved["ratings"]} == {"review"}
    assert [(c["hormone"], c["task_id"]) for c in moved["cascades"]] == [
        ("dopamine" if decided == "approved" else "cortisol", task.id)]
    if verdicts == (1, -1):
        assert moved["row"]["hormone_levels"]["cortisol"] == pytest.approx(4.9)
    assert audit.verify(db).ok


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
