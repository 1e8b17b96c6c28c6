"""Delegation through the board's API against real PostgreSQL (docs/concepts/delegation.md).

What is checked is the end state and the history in ``phoenix.task_events``: the parent waits
holding nothing, comes back exactly once with every child's output, limits are counted in the
database, failures follow the chosen policy, and a cancel leaves no live descendant.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from phoenix_board.board import constants, delegation, errors, lifecycle, models
from phoenix_board.board.db import Database
from tests.board.conftest import run_together
from tests.conftest import make_agent, make_task, snapshot

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LIVE = {"open", "claimed", "in_progress", "review", "waiting"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kinds(sql: Any, task: UUID) -> list[str]:
    return [r["kind"] for r in sql.execute(
        "SELECT kind FROM phoenix.task_events WHERE task_id = %s ORDER BY seq", (task,)).fetchall()]


def claim_task(db: Database, agent: models.Agent, task: UUID, now: datetime) -> models.Task:
    """Claims until the given task comes up (other open tasks are left claimed by the same agent
    only one at a time, so they are failed back first)."""
    got = lifecycle.claim_start(db, agent.id, now=now)
    assert got is not None and got.id == task, got
    return got


def work_children(db: Database, worker: models.Agent, parent: UUID, now: datetime,
                  output: Any = None) -> list[models.Task]:
    """Claims and completes every open child of parent with one agent; returns the results."""
    done = []
    for child in delegation.children(db, parent):
        if child["status"] != "open":
            continue
        t = lifecycle.claim_start(db, worker.id, now=now)
        assert t is not None and t.parent_id == parent
        done.append(lifecycle.result(db, t.id, worker.id, t.attempt,
                                     output if output is not None else {"key": t.child_key}, 1.0, now=now))
    return done


@pytest.fixture
def team(db: Database) -> dict[str, models.Agent]:
    return {"boss": make_agent(db, now=T0), "worker": make_agent(db, now=T0)}


@pytest.mark.rolled_back
def test_delegate_waits_holding_nothing_and_the_join_reopens_the_parent_once(db, sql, team) -> None:
    boss, worker = team["boss"], team["worker"]
    parent = make_task(db, now=T0, category="plan")
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    waiting, kids, created = delegation.delegate(db, t.id, boss.id, t.attempt,
                                                 [{"title": f"part {i}"} for i in range(3)], now=at(2))
    assert (waiting.status, waiting.assigned_to, waiting.lease_expires_at) == ("waiting", None, None)
    assert (created, len(kids), waiting.children_total, waiting.delegated_by) == (3, 3, 3, boss.id)
    boss_row = sql.execute("SELECT current_task FROM phoenix.agents WHERE id = %s", (boss.id,)).fetchone()
    assert boss_row["current_task"] is None
    rows = sql.execute("SELECT parent_id, root_id, depth, child_key, created_by, category FROM phoenix.tasks "
                       "WHERE parent_id = %s ORDER BY child_key", (parent.id,)).fetchall()
    assert [(r["root_id"], r["depth"], r["child_key"], r["created_by"], r["category"]) for r in rows] == \
        [(parent.id, 1, str(i), boss.id, "plan") for i in range(3)]
    # the stale attempt can no longer finish the parent itself
    with pytest.raises(errors.StaleClaim):
        lifecycle.result(db, t.id, boss.id, t.attempt, {"late": True}, now=at(3))

    work_children(db, worker, parent.id, at(4))
    back = lifecycle.get(db, parent.id)
    assert back.status == "open" and back.children_done == 3
    assert kinds(sql, parent.id).count("joined") == 1
    # offered first to the delegator: the worker cannot take it inside the window
    assert lifecycle.claim_start(db, worker.id, now=at(5)) is None
    again = lifecycle.claim_start(db, boss.id, now=at(6))
    assert again is not None and again.id == parent.id and again.attempt == t.attempt + 1
    outputs = [c["output"] for c in delegation.children(db, parent.id, boss.id)]
    assert outputs == [{"key": str(i)} for i in range(3)]
    lifecycle.result(db, parent.id, boss.id, again.attempt, {"merged": 3}, now=at(7))
    assert kinds(sql, parent.id) == ["submitted", "claimed", "started", "delegated", "joined", "claimed",
                                     "started", "completed"]
    # the delegator is rated once for the attempt that delegated
    rated = sql.execute("SELECT count(*) AS n, sum(trust_delta) AS d FROM phoenix.agent_interactions "
                        "WHERE agent_to = %s AND interaction_type = 'delegation' AND agent_from IS NULL",
                        (boss.id,)).fetchone()
    assert rated["n"] == 1 and rated["d"] > 0


@pytest.mark.rolled_back
def test_same_keys_on_a_retried_delegation_return_the_existing_children(db, sql, team) -> None:
    boss, worker = team["boss"], team["worker"]
    parent = make_task(db, now=T0, max_attempts=5)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    _, first, _ = delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": "a", "key": "a"}, {"title": "b", "key": "b"}],
                                      now=at(2))
    work_children(db, worker, parent.id, at(3))
    t2 = lifecycle.claim_start(db, boss.id, now=at(4))
    again, second, created = delegation.delegate(db, t2.id, boss.id, t2.attempt,
                                                 [{"title": "a", "key": "a"}, {"title": "c", "key": "c"}], now=at(5))
    assert created == 1 and second[0] == first[0] and second[1] not in first
    assert again.status == "waiting" and (again.children_total, again.children_done) == (2, 1)
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE parent_id = %s", (parent.id,)).fetchone()["n"] == 3


@pytest.mark.rolled_back
def test_children_of_a_supervisor_go_to_its_subordinates_first(db, sql, team) -> None:
    boss, worker = team["boss"], team["worker"]
    sub = make_agent(db, now=T0)
    sql.execute("UPDATE phoenix.agents SET subordinate_agents = ARRAY[%s::uuid] WHERE id = %s", (sub.id, boss.id))
    sql.execute("UPDATE phoenix.agents SET supervisor_agent = %s WHERE id = %s", (boss.id, sub.id))
    make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": "x"}], now=at(2))
    assert lifecycle.claim_start(db, worker.id, now=at(3)) is None
    got = lifecycle.claim_start(db, sub.id, now=at(3))
    assert got is not None and got.parent_id == t.id
    # after the window anyone of the team may take such a child
    lifecycle.fail(db, got.id, sub.id, got.attempt, "let go", now=at(4))
    late = at(4 + constants.DELEGATION_PREFERRED_SECONDS + constants.RETRY_BACKOFF_BASE_SECONDS + 1)
    assert lifecycle.claim_start(db, worker.id, now=late).parent_id == t.id


@pytest.mark.rolled_back
@pytest.mark.parametrize("join,needed", [("any", 1), (2, 2)])
def test_any_and_k_of_n_reopen_at_k_and_cancel_the_rest(db, sql, team, join, needed) -> None:
    boss, worker = team["boss"], team["worker"]
    parent = make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": f"c{i}"} for i in range(4)], join=join, now=at(2))
    for _ in range(needed):
        c = lifecycle.claim_start(db, worker.id, now=at(3))
        lifecycle.result(db, c.id, worker.id, c.attempt, {}, now=at(3))
    statuses = Counter(c["status"] for c in delegation.children(db, parent.id))
    assert statuses == {"complete": needed, "cancelled": 4 - needed}
    assert lifecycle.get(db, parent.id).status == "open"
    assert kinds(sql, parent.id).count("joined") == 1


@pytest.mark.rolled_back
def test_a_child_out_of_attempts_fails_the_parent_and_cancels_its_siblings(db, sql, team) -> None:
    boss, worker = team["boss"], team["worker"]
    grand = make_task(db, now=T0)
    g = lifecycle.claim_start(db, boss.id, now=at(1))
    _, (mid,), _ = delegation.delegate(db, g.id, boss.id, g.attempt, [{"title": "mid"}], now=at(2))
    m = lifecycle.claim_start(db, worker.id, now=at(3))
    assert m.id == mid
    delegation.delegate(db, m.id, worker.id, m.attempt,
                        [{"title": "doomed", "max_attempts": 1, "priority": 9}, {"title": "sibling"}], now=at(4))
    doomed = next(c for c in delegation.children(db, mid) if c["title"] == "doomed")
    c = lifecycle.claim_start(db, boss.id, now=at(5))
    assert c.id == doomed["id"]
    lifecycle.fail(db, c.id, boss.id, c.attempt, "broken", now=at(6))
    statuses = {c["title"]: c["status"] for c in delegation.children(db, mid)}
    assert statuses == {"doomed": "failed", "sibling": "cancelled"}
    # the failure travels up: mid failed for good, so its own parent failed too
    assert lifecycle.get(db, mid).status == "failed"
    assert lifecycle.get(db, grand.id).status == "failed"
    assert "child_failed" in kinds(sql, grand.id)


@pytest.mark.rolled_back
def test_ignore_records_the_failure_and_joins_the_rest(db, sql, team) -> None:
    boss, worker = team["boss"], team["worker"]
    parent = make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": "bad", "max_attempts": 1}, {"title": "good"}],
                        on_failure="ignore", now=at(2))
    for _ in range(2):
        c = lifecycle.claim_start(db, worker.id, now=at(3))
        if c.title == "bad":
            lifecycle.fail(db, c.id, worker.id, c.attempt, "no", now=at(3))
        else:
            lifecycle.result(db, c.id, worker.id, c.attempt, {"ok": 1}, now=at(3))
    back = lifecycle.get(db, parent.id)
    assert (back.status, back.children_done, back.children_failed) == ("open", 1, 1)


@pytest.mark.rolled_back
def test_a_failed_child_is_escalated_once_to_the_delegators_supervisor(db, sql, team) -> None:
    boss, worker = team["boss"], team["worker"]
    chief = make_agent(db, now=T0)
    sql.execute("UPDATE phoenix.agents SET supervisor_agent = %s WHERE id = %s", (chief.id, boss.id))
    parent = make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": "bad", "max_attempts": 1, "priority": 9}, {"title": "other"}],
                        now=at(2))
    c = lifecycle.claim_start(db, worker.id, now=at(3))
    lifecycle.fail(db, c.id, worker.id, c.attempt, "no", now=at(3))
    back = lifecycle.get(db, parent.id)
    assert back.status == "open" and back.escalated_to == chief.id
    assert "escalated" in kinds(sql, parent.id)
    assert lifecycle.claim_start(db, boss.id, now=at(4)) is None  # offered to the supervisor first
    s = lifecycle.claim_start(db, chief.id, now=at(4))
    assert s.id == parent.id
    # escalated once: a second failed delegation fails the parent for good
    delegation.delegate(db, s.id, chief.id, s.attempt, [{"title": "bad again", "key": "z", "max_attempts": 1}], now=at(5))
    c = lifecycle.claim_start(db, worker.id, now=at(6))
    lifecycle.fail(db, c.id, worker.id, c.attempt, "no", now=at(6))
    assert lifecycle.get(db, parent.id).status == "failed"


@pytest.mark.rolled_back
def test_cancel_cancels_every_live_descendant_and_refuses_late_completions(db, sql, team) -> None:
    boss, worker = team["boss"], team["worker"]
    root = make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": "a"}, {"title": "b"}], now=at(2))
    a = lifecycle.claim_start(db, worker.id, now=at(3))
    delegation.delegate(db, a.id, worker.id, a.attempt, [{"title": "a1"}], now=at(4))
    held = lifecycle.claim_start(db, worker.id, now=at(5))  # b or a1, claimed and running
    task, n = delegation.cancel(db, root.id, now=at(6))
    assert task.status == "cancelled" and n == 4
    live = sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE coalesce(root_id, id) = %s "
                       "AND status NOT IN ('cancelled')", (root.id,)).fetchone()["n"]
    assert live == 0
    with pytest.raises(errors.StaleClaim):
        lifecycle.result(db, held.id, worker.id, held.attempt, {"late": True}, now=at(7))
    assert sql.execute("SELECT current_task FROM phoenix.agents WHERE id = %s", (worker.id,)).fetchone()["current_task"] is None
    with pytest.raises(errors.IllegalTransition):
        delegation.cancel(db, root.id, now=at(8))


@pytest.mark.rolled_back
def test_bad_delegations_are_refused_with_one_line_and_change_nothing(db, sql, team) -> None:
    boss = team["boss"]
    make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    before = snapshot(sql)
    bad: list[tuple[Any, dict[str, Any]]] = [
        ([], {}),
        ([{"title": ""}], {}),
        ([{"title": "x", "key": "k"}, {"title": "y", "key": "k"}], {}),
        ([{"title": "x"}], {"join": 2}),
        ([{"title": "x"}], {"on_failure": "maybe"}),
        ([{"title": "x"}] * (constants.DELEGATION_CHILDREN_MAX + 1), {}),
        ([{"nope": 1}], {}),
    ]
    for children, kw in bad:
        with pytest.raises(errors.InvalidInput) as exc:
            delegation.delegate(db, t.id, boss.id, t.attempt, children, now=at(2), **kw)
        assert "\n" not in exc.value.message
    with pytest.raises(errors.StaleClaim):
        delegation.delegate(db, t.id, boss.id, t.attempt - 1 if t.attempt > 1 else 0, [{"title": "x"}], now=at(2))
    assert snapshot(sql) == before


@pytest.mark.rolled_back
def test_depth_and_descendants_are_limited_in_the_database(db, sql, team, monkeypatch) -> None:
    boss = team["boss"]
    make_task(db, now=T0, max_attempts=100)
    task = lifecycle.claim_start(db, boss.id, now=at(1))
    for level in range(constants.DELEGATION_DEPTH_MAX):
        _, (child,), _ = delegation.delegate(db, task.id, boss.id, task.attempt, [{"title": f"l{level}"}], now=at(2))
        task = lifecycle.claim_start(db, boss.id, now=at(3))
        assert task.id == child and task.depth == level + 1
    before = snapshot(sql)
    with pytest.raises(errors.InvalidInput, match="deeper"):
        delegation.delegate(db, task.id, boss.id, task.attempt, [{"title": "too deep"}], now=at(4))
    assert snapshot(sql) == before
    # the descendants cap is read from the root's counter: push it to the edge
    root = task.root_id
    sql.execute("UPDATE phoenix.tasks SET descendants = %s WHERE id = %s",
                (constants.DELEGATION_DESCENDANTS_MAX, root))
    lifecycle.result(db, task.id, boss.id, task.attempt, {}, now=at(5))
    parent = lifecycle.claim_start(db, boss.id, now=at(6))
    with pytest.raises(errors.InvalidInput, match="descendants"):
        delegation.delegate(db, parent.id, boss.id, parent.attempt, [{"title": "one too many", "key": "new"}], now=at(7))


def test_hundred_children_finishing_at_once_wake_their_parent_once(db, sql) -> None:
    boss = make_agent(db, now=T0)
    workers = [make_agent(db, now=T0) for _ in range(100)]
    parent = make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id)
    delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": f"c{i}"} for i in range(100)])
    claimed = [lifecycle.claim_start(db, w.id) for w in workers]
    assert all(c is not None and c.parent_id == parent.id for c in claimed)
    results = run_together([
        (lambda w=w, c=c: lifecycle.result(db, c.id, w.id, c.attempt, {"i": c.child_key}))
        for w, c in zip(workers, claimed, strict=True)])
    assert [r for r in results if isinstance(r, BaseException)] == []
    back = lifecycle.get(db, parent.id)
    assert (back.status, back.children_done) == ("open", 100)
    assert kinds(sql, parent.id).count("joined") == 1
    assert sql.execute("SELECT count(*) AS n FROM phoenix.agent_interactions WHERE task_id = %s "
                       "AND interaction_type = 'delegation' AND agent_from IS NULL", (parent.id,)).fetchone()["n"] == 1


@pytest.mark.rolled_back
def test_a_tree_of_depth_three_and_fan_out_five_completes_and_wakes_each_parent_once(db, sql) -> None:
    agents_ = [make_agent(db, now=T0) for _ in range(8)]
    root = make_task(db, now=T0, category="tree")
    parents: set[UUID] = set()
    leaves_done = 0

    def step(agent: models.Agent) -> bool:
        nonlocal leaves_done
        t = lifecycle.claim_start(db, agent.id, lease_seconds=600)
        if t is None:
            return False
        if t.children_total:  # came back from its join: all outputs are there
            kids = delegation.children(db, t.id, agent.id)
            assert len(kids) == 5 and all(k["status"] == "complete" for k in kids)
            lifecycle.result(db, t.id, agent.id, t.attempt, {"n": sum(k["output"]["n"] for k in kids)})
        elif t.depth < 3:
            parents.add(t.id)
            delegation.delegate(db, t.id, agent.id, t.attempt, [{"title": f"{t.title}.{i}"} for i in range(5)])
        else:
            leaves_done += 1
            lifecycle.result(db, t.id, agent.id, t.attempt, {"n": 1})
        return True

    # each round every agent takes one task; the delegator's window may hold a parent back, so
    # rounds go on until the root is done (the window is short next to the rounds' work)
    for _ in range(10_000):
        if lifecycle.get(db, root.id).status == "complete":
            break
        for a in agents_:
            step(a)
    assert lifecycle.get(db, root.id).output == {"n": 125}
    assert leaves_done == 125 and len(parents) == 1 + 5 + 25
    joined = sql.execute("SELECT task_id, count(*) AS n FROM phoenix.task_events WHERE kind = 'joined' "
                         "GROUP BY task_id").fetchall()
    assert {r["task_id"] for r in joined} == parents and all(r["n"] == 1 for r in joined)
    completed = sql.execute("SELECT count(*) AS n, count(DISTINCT task_id) AS d FROM phoenix.task_events "
                            "WHERE kind = 'completed'").fetchone()
    assert completed["n"] == completed["d"] == 1 + 5 + 25 + 125


def test_a_cancel_racing_a_delegation_leaves_no_live_orphan(db, sql) -> None:
    for round_ in range(10):
        boss, worker = make_agent(db), make_agent(db)
        root = make_task(db)
        t = lifecycle.claim_start(db, boss.id)
        delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": "mid"}])
        mid = lifecycle.claim_start(db, worker.id)
        results = run_together([
            lambda: delegation.delegate(db, mid.id, worker.id, mid.attempt, [{"title": f"leaf {i}"} for i in range(5)]),
            lambda: delegation.cancel(db, root.id),
        ])
        # the cancel always wins in the end; the delegation either came first or was refused as stale
        assert not isinstance(results[1], BaseException), results[1]
        assert results[0] is None or not isinstance(results[0], BaseException) \
            or isinstance(results[0], errors.StaleClaim), results[0]
        live = sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE (root_id = %s OR id = %s) "
                           "AND status IN ('open', 'claimed', 'in_progress', 'review', 'waiting')",
                           (root.id, root.id)).fetchone()["n"]
        assert live == 0, round_


@pytest.mark.rolled_back
def test_a_childs_stale_completion_after_its_lease_expired_is_refused_and_counted_once(db, sql) -> None:
    boss, slow, fast = make_agent(db, now=T0), make_agent(db, now=T0), make_agent(db, now=T0)
    parent = make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": "only"}], now=at(2))
    c = lifecycle.claim_start(db, slow.id, lease_seconds=30, now=at(3))  # then its process dies
    assert [r.id for r in lifecycle.release_expired(db, now=at(40))] == [c.id]
    again = lifecycle.claim_start(db, fast.id, now=at(60))
    lifecycle.result(db, again.id, fast.id, again.attempt, {"by": "fast"}, now=at(61))
    with pytest.raises(errors.StaleClaim):
        lifecycle.result(db, c.id, slow.id, c.attempt, {"by": "slow"}, now=at(62))
    back = lifecycle.get(db, parent.id)
    assert (back.status, back.children_done) == ("open", 1)
    assert kinds(sql, parent.id).count("joined") == 1
    assert delegation.children(db, parent.id)[0]["output"] == {"by": "fast"}
