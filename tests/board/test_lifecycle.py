"""Every transition of the task lifecycle, and every refusal, against real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import constants, errors, lifecycle
from tests.conftest import make_agent, make_task, snapshot

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kinds(db, task_id) -> list[str]:
    return [e["kind"] for e in lifecycle.events(db, task_id)]


def test_submit_writes_task_and_event(db):
    task, created = lifecycle.submit(db, {"title": "index the logs", "team": "iota", "priority": 8,
                                          "fibonacci_size": 3, "payload": {"n": 1}}, now=T0)
    assert created
    assert (task.status, task.team, task.priority, task.fibonacci_size, task.attempt) == ("open", "iota", 8, 3, 0)
    assert task.payload == {"n": 1}
    assert task.created_at == T0
    assert kinds(db, task.id) == ["submitted"]


def test_idempotency_key_returns_the_existing_task(db, sql):
    first, created = lifecycle.submit(db, {"title": "once", "team": "iota", "idempotency_key": "k-1"})
    again, created_again = lifecycle.submit(db, {"title": "once", "team": "iota", "idempotency_key": "k-1"})
    assert created and not created_again
    assert again.id == first.id
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"] == 1


def test_claim_sets_lease_attempt_and_current_task(db):
    agent = make_agent(db)
    task = make_task(db, now=T0)
    claimed = lifecycle.claim(db, agent.id, lease_seconds=30, now=at(1))
    assert claimed.id == task.id
    assert (claimed.status, claimed.attempt, claimed.assigned_to) == ("claimed", 1, agent.id)
    assert claimed.lease_expires_at == at(31)
    from phoenix_board.board import agents

    assert agents.get(db, agent.id).current_task == task.id
    assert kinds(db, task.id) == ["submitted", "claimed"]


def test_claim_returns_none_when_nothing_is_claimable(db):
    agent = make_agent(db)
    assert lifecycle.claim(db, agent.id) is None


def test_agent_holding_a_claim_cannot_claim_another(db):
    agent = make_agent(db)
    make_task(db)
    make_task(db)
    lifecycle.claim(db, agent.id)
    with pytest.raises(errors.Conflict, match="still holds task"):
        lifecycle.claim(db, agent.id)


def test_start_renew_result_complete(db, sql):
    agent = make_agent(db)
    task = make_task(db, now=T0, dopamine_reward=2.0)
    c = lifecycle.claim(db, agent.id, now=at(1))
    started = lifecycle.start(db, task.id, agent.id, c.attempt, lease_seconds=60, now=at(2))
    assert started.status == "in_progress" and started.started_at == at(2)
    renewed = lifecycle.renew(db, task.id, agent.id, c.attempt, lease_seconds=60, now=at(50))
    assert renewed.lease_expires_at == at(110)
    done = lifecycle.result(db, task.id, agent.id, c.attempt, {"answer": 42}, 0.8, now=at(61))
    assert (done.status, done.output, done.completed_at) == ("complete", {"answer": 42}, at(61))
    assert done.quality_score == pytest.approx(0.8)
    assert kinds(db, task.id) == ["submitted", "claimed", "started", "completed"]
    row = sql.execute("SELECT * FROM phoenix.agents WHERE id = %s", (agent.id,)).fetchone()
    assert row["tasks_completed"] == 1 and row["success_rate"] == 1.0 and row["current_task"] is None
    assert row["average_response_time"] == timedelta(seconds=60)
    assert row["fibonacci_level"] == 2
    # dopamine: baseline 1.0 + 0.5 * reward 2.0 * quality 0.8; cortisol relieved by 0.1
    assert row["hormone_levels"]["dopamine"] == pytest.approx(1.0 + constants.DOPAMINE_PER_COMPLETION * 2.0 * 0.8)
    assert row["hormone_levels"]["cortisol"] == pytest.approx(constants.BASELINE_CORTISOL - constants.CORTISOL_RELIEF_PER_COMPLETION)
    # trust: beta reputation with rating (0.8, 0.2) from no evidence -> (0.8 + 1) / (1 + 2)
    assert row["trust_coefficient"] == pytest.approx(1.8 / 3)
    outcome = sql.execute("SELECT * FROM phoenix.agent_interactions WHERE agent_to = %s", (agent.id,)).fetchall()
    assert [(o["interaction_type"], o["agent_from"]) for o in outcome] == [("outcome", None)]
    assert outcome[0]["trust_delta"] == pytest.approx(1.8 / 3 - 0.5)


def test_result_straight_from_claimed_is_allowed(db):
    agent = make_agent(db)
    task = make_task(db)
    c = lifecycle.claim(db, agent.id)
    assert lifecycle.result(db, task.id, agent.id, c.attempt).status == "complete"


def test_start_twice_is_an_illegal_transition(db, sql):
    agent = make_agent(db)
    task = make_task(db)
    c = lifecycle.claim(db, agent.id)
    lifecycle.start(db, task.id, agent.id, c.attempt)
    before = snapshot(sql)
    with pytest.raises(errors.IllegalTransition, match="it is in_progress"):
        lifecycle.start(db, task.id, agent.id, c.attempt)
    assert snapshot(sql) == before


@pytest.mark.parametrize("action", ["start", "renew", "result", "fail"])
def test_only_the_claimant_may_move_a_claim(db, sql, action):
    owner, other = make_agent(db), make_agent(db)
    task = make_task(db)
    c = lifecycle.claim(db, owner.id)
    before = snapshot(sql)
    call = {
        "start": lambda: lifecycle.start(db, task.id, other.id, c.attempt),
        "renew": lambda: lifecycle.renew(db, task.id, other.id, c.attempt),
        "result": lambda: lifecycle.result(db, task.id, other.id, c.attempt),
        "fail": lambda: lifecycle.fail(db, task.id, other.id, c.attempt, "nope"),
    }[action]
    with pytest.raises(errors.NotClaimant):
        call()
    assert snapshot(sql) == before


def test_unknown_task_is_not_found(db):
    agent = make_agent(db)
    import uuid

    with pytest.raises(errors.NotFound, match="not found"):
        lifecycle.result(db, uuid.uuid4(), agent.id, 1)


def test_stale_claim_cannot_complete_after_reclaim(db, sql):
    a, b = make_agent(db), make_agent(db)
    task = make_task(db, now=T0)
    first = lifecycle.claim(db, a.id, lease_seconds=10, now=at(1))
    released = lifecycle.release_expired(db, now=at(12))
    assert [t.id for t in released] == [task.id]
    assert released[0].status == "open"
    second = lifecycle.claim(db, b.id, now=released[0].available_at)
    assert second.attempt == 2
    lifecycle.result(db, task.id, b.id, second.attempt, {"by": "b"}, now=released[0].available_at + timedelta(seconds=1))
    before = snapshot(sql)
    with pytest.raises(errors.StaleClaim, match="attempt 1 is stale"):
        lifecycle.result(db, task.id, a.id, first.attempt, {"by": "a"})
    assert snapshot(sql) == before
    assert lifecycle.get(db, task.id).output == {"by": "b"}


def test_released_claim_late_result_is_stale_before_reclaim(db, sql):
    a = make_agent(db)
    task = make_task(db, now=T0)
    c = lifecycle.claim(db, a.id, lease_seconds=10, now=at(1))
    lifecycle.release_expired(db, now=at(12))
    before = snapshot(sql)
    with pytest.raises(errors.StaleClaim, match="attempt 1 is over"):
        lifecycle.result(db, task.id, a.id, c.attempt)
    assert snapshot(sql) == before


def test_fail_retries_with_backoff_then_fails_for_good(db, sql):
    agent = make_agent(db)
    task = make_task(db, now=T0, max_attempts=2)
    c1 = lifecycle.claim(db, agent.id, now=at(1))
    retried = lifecycle.fail(db, task.id, agent.id, c1.attempt, "boom", now=at(2))
    assert retried.status == "open" and retried.last_error == "boom"
    assert retried.available_at == at(2) + timedelta(seconds=constants.RETRY_BACKOFF_BASE_SECONDS)
    assert lifecycle.claim(db, agent.id, now=at(3)) is None  # still in backoff
    c2 = lifecycle.claim(db, agent.id, now=retried.available_at)
    assert c2.attempt == 2
    failed = lifecycle.fail(db, task.id, agent.id, c2.attempt, "boom again", now=retried.available_at)
    assert failed.status == "failed"
    assert kinds(db, task.id) == ["submitted", "claimed", "failed", "claimed", "failed"]
    events = lifecycle.events(db, task.id)
    assert [e["detail"]["final"] for e in events if e["kind"] == "failed"] == [False, True]
    row = sql.execute("SELECT * FROM phoenix.agents WHERE id = %s", (agent.id,)).fetchone()
    assert (row["tasks_failed"], row["tasks_completed"], row["success_rate"]) == (2, 0, 0.0)
    assert row["hormone_levels"]["cortisol"] == pytest.approx(constants.BASELINE_CORTISOL + 2 * constants.CORTISOL_PER_FAILURE)
    assert row["trust_coefficient"] < 0.5


def test_final_failure_fails_dependents_transitively(db):
    agent = make_agent(db)
    root = make_task(db, max_attempts=1)
    child = make_task(db, depends_on=[str(root.id)])
    grandchild = make_task(db, depends_on=[str(child.id)])
    c = lifecycle.claim(db, agent.id)
    assert c.id == root.id
    lifecycle.fail(db, root.id, agent.id, c.attempt, "cannot")
    assert lifecycle.get(db, child.id).status == "failed"
    assert lifecycle.get(db, grandchild.id).status == "failed"
    assert kinds(db, grandchild.id) == ["submitted", "dependency_failed"]


def test_dependencies_gate_the_claim_and_blocks_stay_consistent(db):
    agent = make_agent(db)
    dep = make_task(db, now=T0)
    dependent = make_task(db, now=at(1), depends_on=[str(dep.id)], priority=10)
    assert dependent.pending_deps == 1
    assert lifecycle.get(db, dep.id).blocks == [dependent.id]
    c = lifecycle.claim(db, agent.id, now=at(2))
    assert c.id == dep.id  # the dependent has a higher priority but is not claimable yet
    lifecycle.result(db, dep.id, agent.id, c.attempt, now=at(3))
    assert lifecycle.get(db, dependent.id).pending_deps == 0
    assert lifecycle.claim(db, agent.id, now=at(4)).id == dependent.id


def test_dependency_that_is_complete_counts_as_done(db):
    agent = make_agent(db)
    dep = make_task(db)
    c = lifecycle.claim(db, agent.id)
    lifecycle.result(db, dep.id, agent.id, c.attempt)
    later = make_task(db, depends_on=[str(dep.id)])
    assert later.pending_deps == 0


def test_unknown_or_failed_dependency_is_refused(db, sql):
    import uuid

    before = snapshot(sql)
    missing = uuid.uuid4()
    with pytest.raises(errors.NotFound, match=f"task {missing} not found"):
        lifecycle.submit(db, {"title": "x", "team": "iota", "depends_on": [str(missing)]})
    assert snapshot(sql) == before
    agent = make_agent(db)
    bad = make_task(db, max_attempts=1)
    c = lifecycle.claim(db, agent.id)
    lifecycle.fail(db, bad.id, agent.id, c.attempt, "no")
    with pytest.raises(errors.Conflict, match="has failed"):
        lifecycle.submit(db, {"title": "x", "team": "iota", "depends_on": [str(bad.id)]})


def test_deadline_in_the_past_is_refused(db):
    with pytest.raises(errors.InvalidInput, match="not in the future"):
        lifecycle.submit(db, {"title": "late", "team": "iota", "deadline": T0}, now=at(10))


def test_review_quorum_approves(db, sql):
    worker, r1, r2 = make_agent(db), make_agent(db), make_agent(db)
    task = make_task(db, review_quorum=2)
    c = lifecycle.claim(db, worker.id)
    in_review = lifecycle.result(db, task.id, worker.id, c.attempt, {"draft": 1}, 0.9)
    assert in_review.status == "review"
    assert sql.execute("SELECT current_task FROM phoenix.agents WHERE id = %s", (worker.id,)).fetchone()["current_task"] is None
    t, decided = lifecycle.review(db, task.id, r1.id, 1)
    assert decided is None and t.status == "review"
    t, decided = lifecycle.review(db, task.id, r2.id, 1)
    assert decided == "approved" and t.status == "complete"
    assert kinds(db, task.id)[-4:] == ["submitted_for_review", "reviewed", "reviewed", "completed"]
    row = sql.execute("SELECT * FROM phoenix.agents WHERE id = %s", (worker.id,)).fetchone()
    assert row["tasks_completed"] == 1
    # two approvals, each weighted by the reviewer's trust (0.5): r = 0.98 * 0.5 + 0.5
    assert row["trust_coefficient"] > 0.5
    consensus = sql.execute(
        "SELECT agent_to, trust_delta FROM phoenix.agent_interactions WHERE interaction_type = 'consensus'").fetchall()
    assert {c["agent_to"] for c in consensus} == {r1.id, r2.id}
    assert all(c["trust_delta"] > 0 for c in consensus)


def test_review_rejection_reopens_and_counts_a_failure(db, sql):
    worker, r1 = make_agent(db), make_agent(db)
    task = make_task(db, review_quorum=1, max_attempts=3)
    c = lifecycle.claim(db, worker.id)
    lifecycle.result(db, task.id, worker.id, c.attempt, {"draft": 1})
    t, decided = lifecycle.review(db, task.id, r1.id, -1, "wrong")
    assert decided == "rejected" and t.status == "open" and t.assigned_to is None
    assert kinds(db, task.id)[-2:] == ["reviewed", "rejected"]
    row = sql.execute("SELECT tasks_failed FROM phoenix.agents WHERE id = %s", (worker.id,)).fetchone()
    assert row["tasks_failed"] == 1


def test_review_refusals(db, sql):
    worker, r1 = make_agent(db), make_agent(db)
    task = make_task(db, review_quorum=2)
    c = lifecycle.claim(db, worker.id)
    with pytest.raises(errors.IllegalTransition, match="not in review"):
        lifecycle.review(db, task.id, r1.id, 1)
    lifecycle.result(db, task.id, worker.id, c.attempt)
    before = snapshot(sql)
    with pytest.raises(errors.SelfVote):
        lifecycle.review(db, task.id, worker.id, 1)
    with pytest.raises(errors.InvalidInput):
        lifecycle.review(db, task.id, r1.id, 2)
    assert snapshot(sql) == before
    lifecycle.review(db, task.id, r1.id, 1)
    before = snapshot(sql)
    with pytest.raises(errors.Conflict, match="already reviewed"):
        lifecycle.review(db, task.id, r1.id, -1)
    assert snapshot(sql) == before


def test_release_expired_leaves_live_leases(db):
    a, b = make_agent(db), make_agent(db)
    t1 = make_task(db, now=T0)
    t2 = make_task(db, now=T0)
    lifecycle.claim(db, a.id, lease_seconds=10, now=at(1))
    lifecycle.claim(db, b.id, lease_seconds=100, now=at(1))
    released = lifecycle.release_expired(db, now=at(20))
    assert len(released) == 1
    assert {lifecycle.get(db, t1.id).status, lifecycle.get(db, t2.id).status} == {"open", "claimed"}
    assert lifecycle.release_expired(db, now=at(20)) == []


def test_release_expired_counts_against_the_agent(db, sql):
    a = make_agent(db)
    task = make_task(db, now=T0)
    lifecycle.claim(db, a.id, lease_seconds=10, now=at(1))
    lifecycle.release_expired(db, now=at(12))
    row = sql.execute("SELECT tasks_failed, current_task FROM phoenix.agents WHERE id = %s", (a.id,)).fetchone()
    assert row == {"tasks_failed": 1, "current_task": None}
    assert kinds(db, task.id) == ["submitted", "claimed", "lease_expired"]


def test_near_deadline_claim_raises_adrenaline(db, sql):
    agent = make_agent(db)
    make_task(db, now=T0, deadline=at(constants.DEADLINE_LEAD_SECONDS / 2))
    lifecycle.claim(db, agent.id, now=T0)
    h = sql.execute("SELECT hormone_levels FROM phoenix.agents WHERE id = %s", (agent.id,)).fetchone()["hormone_levels"]
    assert h["adrenaline"] == pytest.approx(constants.BASELINE_ADRENALINE + constants.ADRENALINE_PER_URGENT_CLAIM * 0.5)


def test_task_events_are_append_only(db, sql):
    import psycopg

    task = make_task(db)
    with pytest.raises(psycopg.Error, match="append-only"):
        sql.execute("UPDATE phoenix.task_events SET kind = 'x' WHERE task_id = %s", (task.id,))
    with pytest.raises(psycopg.Error, match="append-only"):
        sql.execute("DELETE FROM phoenix.task_events WHERE task_id = %s", (task.id,))


def test_claim_start_and_result_claim_next(db):
    agent = make_agent(db)
    first = make_task(db, now=T0)
    second = make_task(db, now=at(1))
    started = lifecycle.claim_start(db, agent.id, now=at(2))
    assert (started.id, started.status, started.started_at) == (first.id, "in_progress", at(2))
    done, nxt = lifecycle.result_claim_next(db, first.id, agent.id, started.attempt, {"n": 1}, 1.0, now=at(3))
    assert done.status == "complete" and nxt.id == second.id and nxt.status == "in_progress"
    done, nxt = lifecycle.result_claim_next(db, second.id, agent.id, nxt.attempt, {"n": 2}, now=at(4))
    assert done.status == "complete" and nxt is None
    assert kinds(db, second.id) == ["submitted", "claimed", "started", "completed"]


def test_result_stands_when_the_next_claim_is_refused(db, sql):
    agent = make_agent(db)
    task = make_task(db)
    make_task(db)
    started = lifecycle.claim_start(db, agent.id)
    # the agent is decommissioned between its claim and its result: the result must still count
    sql.execute("UPDATE phoenix.agents SET decommissioned_at = now() WHERE id = %s", (agent.id,))
    done, nxt = lifecycle.result_claim_next(db, task.id, agent.id, started.attempt)
    assert done.status == "complete" and nxt is None


def test_result_claim_next_is_fenced(db, sql):
    agent = make_agent(db)
    task = make_task(db)
    started = lifecycle.claim_start(db, agent.id)
    before = snapshot(sql)
    with pytest.raises(errors.StaleClaim):
        lifecycle.result_claim_next(db, task.id, agent.id, started.attempt - 1)
    assert snapshot(sql) == before
