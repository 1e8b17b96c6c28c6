"""Retry and requeue (docs/operations/retry.md): a failed or cancelled task comes back with a fresh
attempt budget, recorded as an event (and on the outbox); its dependents that failed only because
of it come back too; a delegated tree is retried from its root; bulk retry and cancel by filter
count first and change nothing on a dry run or a bad filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from phoenix_board.board import delegation, errors, lifecycle, outbox, retry
from tests.conftest import make_agent, make_task, snapshot

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kinds(sql: Any, task: UUID) -> list[str]:
    return [r["kind"] for r in sql.execute(
        "SELECT kind FROM phoenix.task_events WHERE task_id = %s ORDER BY seq", (task,)).fetchall()]


def fail_for_good(db, agent, task: UUID, now: datetime) -> None:
    """Claims and fails the task until its attempts are spent (the backoff is skipped by the clock)."""
    for i in range(10):
        t = lifecycle.claim_start(db, agent.id, now=now + timedelta(hours=i))
        assert t is not None and t.id == task
        if lifecycle.fail(db, t.id, agent.id, t.attempt, "broken", now=now + timedelta(hours=i)).status == "failed":
            return
    raise AssertionError("never failed for good")


@pytest.mark.rolled_back
def test_a_failed_task_comes_back_with_a_fresh_budget_and_its_dependents_revive(db, sql) -> None:
    agent = make_agent(db, now=T0)
    dep = make_task(db, now=T0, max_attempts=2)
    mid = make_task(db, now=T0, depends_on=[str(dep.id)])
    last = make_task(db, now=T0, depends_on=[str(mid.id)])
    fail_for_good(db, agent, dep.id, at(1))
    assert {lifecycle.get(db, t.id).status for t in (mid, last)} == {"failed"}
    outbox_before = sql.execute("SELECT count(*) AS n FROM phoenix.outbox WHERE task_id = %s", (dep.id,)).fetchone()["n"]

    task, back, revived = retry.retry(db, dep.id, "fixed the handler", now=at(10_000))
    assert (task.status, task.attempt, task.attempts_before, back, revived) == ("open", 2, 2, 1, 2)
    assert kinds(sql, dep.id)[-1] == "retried"
    for t in (mid, last):
        got = lifecycle.get(db, t.id)
        assert (got.status, got.pending_deps, got.last_error) == ("open", 1, None)
        assert kinds(sql, t.id)[-1] == "revived"
    # the retry is on the event stream as every transition is (task.updated)
    outbox.assign(sql)
    entries = sql.execute("SELECT payload FROM phoenix.outbox WHERE task_id = %s ORDER BY id", (dep.id,)).fetchall()
    assert len(entries) == outbox_before + 1 and entries[-1]["payload"]["kind"] == "retried"

    # a fresh budget: two more attempts before it fails for good again, and the chain still runs
    t = lifecycle.claim_start(db, agent.id, now=at(10_001))
    assert t.id == dep.id and t.attempt == 3
    assert lifecycle.fail(db, t.id, agent.id, t.attempt, "again", now=at(10_002)).status == "open"
    t = lifecycle.claim_start(db, agent.id, now=at(20_000))
    lifecycle.result(db, t.id, agent.id, t.attempt, {"ok": True}, 1.0, now=at(20_001))
    assert lifecycle.get(db, mid.id).pending_deps == 0
    nxt = lifecycle.claim_start(db, agent.id, now=at(20_002))
    assert nxt.id == mid.id


@pytest.mark.rolled_back
def test_a_stale_worker_of_the_failed_attempt_is_still_refused(db) -> None:
    agent = make_agent(db, now=T0)
    dep = make_task(db, now=T0, max_attempts=1)
    t = lifecycle.claim_start(db, agent.id, now=at(1))
    lifecycle.fail(db, t.id, agent.id, t.attempt, "broken", now=at(2))
    retry.retry(db, dep.id, now=at(3))
    with pytest.raises(errors.StaleClaim):
        lifecycle.result(db, t.id, agent.id, t.attempt, {}, 1.0, now=at(4))


@pytest.mark.rolled_back
def test_a_dependent_that_failed_for_another_reason_or_still_has_a_failed_dependency_stays(db, sql) -> None:
    agent = make_agent(db, now=T0)
    a = make_task(db, now=T0, max_attempts=1, priority=9)
    b = make_task(db, now=T0, max_attempts=1, priority=9)
    both = make_task(db, now=T0, depends_on=[str(a.id), str(b.id)])
    fail_for_good(db, agent, a.id, at(1))
    fail_for_good(db, agent, b.id, at(2))
    _, _, revived = retry.retry(db, a.id, now=at(10))
    assert revived == 0 and lifecycle.get(db, both.id).status == "failed"  # b is still failed
    # retrying the dependent itself is refused while a dependency of it is failed
    before = snapshot(sql)
    with pytest.raises(errors.IllegalTransition, match=f"its dependency {b.id} is failed; retry that one"):
        retry.retry(db, both.id, now=at(11))
    assert snapshot(sql) == before
    _, _, revived = retry.retry(db, b.id, now=at(12))
    assert revived == 1 and lifecycle.get(db, both.id).status == "open"


@pytest.mark.rolled_back
def test_only_failed_or_cancelled_roots_are_retried_by_the_operator(db, sql) -> None:
    agent = make_agent(db, now=T0)
    live = make_task(db, now=T0)
    before = snapshot(sql)
    with pytest.raises(errors.IllegalTransition, match="it is open; only a failed or cancelled task can be retried"):
        retry.retry(db, live.id, now=at(1))
    with pytest.raises(errors.NotFound):
        retry.retry(db, UUID(int=7), now=at(1))
    with pytest.raises(errors.InvalidInput):
        retry.retry(db, "not-a-task", now=at(1))
    with pytest.raises(errors.InvalidInput):
        retry.retry(db, live.id, "x" * 5000, now=at(1))
    assert snapshot(sql) == before
    # a cancelled task comes back too
    delegation.cancel(db, live.id, reason="oops", now=at(2))
    task, _, _ = retry.retry(db, live.id, now=at(3))
    assert task.status == "open" and kinds(sql, live.id)[-2:] == ["cancelled", "retried"]
    assert lifecycle.claim_start(db, agent.id, now=at(4)).id == live.id


@pytest.mark.rolled_back
def test_a_failed_tree_is_retried_from_its_root_and_completed_children_are_kept(db, sql) -> None:
    boss, worker = make_agent(db, now=T0), make_agent(db, now=T0)
    root = make_task(db, now=T0)
    r = lifecycle.claim_start(db, boss.id, now=at(1))
    delegation.delegate(db, r.id, boss.id, r.attempt,
                        # "good" ahead in the claim order: "bad" failing first would cancel it with its parent
                        [{"title": "good", "key": "good", "priority": 9}, {"title": "bad", "key": "bad", "max_attempts": 1}],
                        now=at(2))
    kids = {c["child_key"]: c["id"] for c in delegation.children(db, root.id)}
    for _ in range(2):
        c = lifecycle.claim_start(db, worker.id, now=at(3))
        if c.child_key == "good":
            lifecycle.result(db, c.id, worker.id, c.attempt, {"v": 1}, 1.0, now=at(4))
        else:
            lifecycle.fail(db, c.id, worker.id, c.attempt, "broken", now=at(4))
    assert lifecycle.get(db, root.id).status == "failed"
    # a child alone is refused: its parent's join already counted it
    with pytest.raises(errors.IllegalTransition, match=f"retry its tree's root {root.id}"):
        retry.retry(db, kids["bad"], now=at(5))
    task, back, _ = retry.retry(db, root.id, now=at(6))
    assert (task.status, back) == ("open", 2)
    assert lifecycle.get(db, kids["bad"]).status == "open"
    assert lifecycle.get(db, kids["good"]).status == "complete"
    assert kinds(sql, kids["bad"])[-1] == "retried"
    # the root's next delegation with the same keys finds both, and the join completes
    r = lifecycle.claim_start(db, boss.id, now=at(7))
    if r.id != root.id:  # the revived child may come first in the claim order
        lifecycle.result(db, r.id, boss.id, r.attempt, {"v": 2}, 1.0, now=at(7))
        r = lifecycle.claim_start(db, boss.id, now=at(8))
    assert r.id == root.id
    _, children, created = delegation.delegate(db, r.id, boss.id, r.attempt,
                                               [{"title": "good", "key": "good"}, {"title": "bad", "key": "bad"}],
                                               now=at(9))
    assert created == 0 and set(children) == set(kids.values())


@pytest.mark.rolled_back
def test_bulk_retry_dry_run_counts_and_changes_nothing_then_retries(db, sql) -> None:
    agent = make_agent(db, now=T0)
    failed = []
    for i in range(5):
        t = make_task(db, now=T0, max_attempts=1, category="alpha" if i < 3 else "beta")
        failed.append(t.id)
    for i in range(5):
        t = lifecycle.claim_start(db, agent.id, now=at(i))
        lifecycle.fail(db, t.id, agent.id, t.attempt, "timeout talking to model" if i % 2 == 0 else "bad input",
                       now=at(i))
    flt = retry.parse_filter("retry", category="alpha", reason_like="%TIMEOUT%")
    before = snapshot(sql)
    assert retry.count(db, flt) == 2
    assert snapshot(sql) == before
    result = retry.run(db, flt, "model back", batch=1)
    assert (result.matched, result.done, result.skipped) == (2, 2, 0)
    assert retry.count(db, flt) == 0
    statuses = sorted(lifecycle.get(db, t).status for t in failed)
    assert statuses == ["failed", "failed", "failed", "open", "open"]
    # bulk cancel of what is open again
    cancel = retry.parse_filter("cancel", category="alpha")
    assert retry.count(db, cancel) == 2
    assert retry.run(db, cancel, "not now").done == 2


@pytest.mark.rolled_back
@pytest.mark.parametrize(("conditions", "message"), [
    ({}, "give at least one of team, category, status, since, reason_like"),
    ({"status": ["open"]}, "retry takes tasks that are failed, cancelled, not open"),
    ({"status": ["bogus"]}, "status"),
    ({"status": []}, "give at least one status"),
    ({"team": "Robert'); DROP TABLE phoenix.tasks;--"}, "team"),
    ({"category": "x" * 500}, "category"),
    ({"reason_like": "a\x00b"}, "reason_like"),
    ({"reason_like": "%" * 201}, "reason_like"),
    ({"since": datetime(2026, 1, 1)}, "time zone"),
    ({"nonsense": 1}, "nonsense"),
])
def test_hostile_bulk_filters_are_refused_with_one_line_and_change_nothing(db, sql, conditions, message) -> None:
    make_task(db, now=T0)
    before = snapshot(sql)
    with pytest.raises(errors.InvalidInput, match=message) as refused:
        retry.parse_filter("retry", **conditions)
    assert "\n" not in refused.value.message
    assert snapshot(sql) == before


@pytest.mark.rolled_back
def test_a_like_pattern_is_a_pattern_not_sql(db, sql) -> None:
    agent = make_agent(db, now=T0)
    t = make_task(db, now=T0, max_attempts=1)
    c = lifecycle.claim_start(db, agent.id, now=at(1))
    lifecycle.fail(db, c.id, agent.id, c.attempt, "it's 100% broken", now=at(2))
    assert retry.count(db, retry.parse_filter("retry", reason_like="%'; DELETE FROM phoenix.tasks; --%")) == 0
    assert retry.count(db, retry.parse_filter("retry", reason_like="it's 100% broken")) == 1
    assert lifecycle.get(db, t.id).status == "failed"


def test_two_bulk_retries_at_once_retry_each_task_once(db, sql) -> None:
    from tests.board.conftest import run_together

    agent = make_agent(db, now=T0)
    ids = [make_task(db, now=T0, max_attempts=1, category="racy").id for _ in range(30)]
    for i in range(30):
        t = lifecycle.claim_start(db, agent.id, now=at(i))
        lifecycle.fail(db, t.id, agent.id, t.attempt, "flaky", now=at(i))
    flt = retry.parse_filter("retry", category="racy")
    runs = run_together([lambda: retry.run(db, flt, "again", batch=7) for _ in range(3)])
    assert not [r for r in runs if isinstance(r, Exception)], runs
    assert sum(r.done for r in runs) == 30
    assert sum(r.done + r.skipped for r in runs) >= 30
    retried = sql.execute("SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'retried' AND task_id = ANY (%s)",
                          (ids,)).fetchone()["n"]
    assert retried == 30 and {lifecycle.get(db, t).status for t in ids} == {"open"}
