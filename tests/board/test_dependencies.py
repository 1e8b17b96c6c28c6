"""Dependencies (docs/concepts/lifecycle.md): a task runs only after every task it depends on has
completed; one that ends any other way (failed or cancelled) ends its dependents too, with the
reason, so no task waits for ever on a dependency that will never complete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import delegation, errors, lifecycle
from tests.conftest import make_agent, make_task, snapshot
from tests.board.conftest import ROLES
from tests.conftest import login

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kinds(sql: Any, task: UUID) -> list[str]:
    return [r["kind"] for r in sql.execute(
        "SELECT kind FROM phoenix.task_events WHERE task_id = %s ORDER BY seq", (task,)).fetchall()]


@pytest.mark.rolled_back
def test_a_cancelled_dependency_is_refused_at_submission_like_a_failed_one(db, sql) -> None:
    dep = make_task(db, now=T0)
    delegation.cancel(db, dep.id, reason="not needed", now=at(1))
    before = snapshot(sql)
    with pytest.raises(errors.Conflict, match=f"depends_on: task {dep.id} was cancelled, so this task could never run"):
        make_task(db, now=at(2), depends_on=[str(dep.id)])
    assert snapshot(sql) == before


@pytest.mark.rolled_back
def test_cancelling_a_dependency_fails_its_dependents_transitively_with_the_reason(db, sql) -> None:
    dep = make_task(db, now=T0)
    mid = make_task(db, now=T0, depends_on=[str(dep.id)])
    last = make_task(db, now=T0, depends_on=[str(mid.id)])
    delegation.cancel(db, dep.id, reason="not needed", now=at(1))
    for t in (mid, last):
        got = lifecycle.get(db, t.id)
        assert (got.status, got.pending_deps) == ("failed", 1)
        assert kinds(sql, t.id) == ["submitted", "dependency_failed"]
    assert lifecycle.get(db, mid.id).last_error == f"dependency {dep.id} was cancelled"
    assert lifecycle.get(db, last.id).last_error == f"dependency {mid.id} failed"


@pytest.mark.rolled_back
def test_a_child_cancelled_by_its_parents_join_fails_the_task_that_waited_on_it(db, sql) -> None:
    boss, worker = make_agent(db, now=T0), make_agent(db, now=T0)
    make_task(db, now=T0)
    t = lifecycle.claim_start(db, boss.id, now=at(1))
    _, (first, second), _ = delegation.delegate(db, t.id, boss.id, t.attempt, [{"title": "a"}, {"title": "b"}],
                                                join="any", now=at(2))
    c = lifecycle.claim_start(db, worker.id, now=at(3))
    assert c.id in (first, second)  # equal children: either may be claimed first
    other = second if c.id == first else first
    waiter = make_task(db, now=at(3), depends_on=[str(other)])
    lifecycle.result(db, c.id, worker.id, c.attempt, {}, now=at(4))
    assert lifecycle.get(db, other).status == "cancelled"
    got = lifecycle.get(db, waiter.id)
    assert got.status == "failed" and got.last_error == f"dependency {other} was cancelled"
    # nothing is left waiting on a dependency that will never complete
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'open' AND pending_deps > 0"
                       ).fetchone()["n"] == 0


@pytest.mark.rolled_back
def test_a_dependent_is_a_row_of_its_own_and_leaves_the_dependency_row_as_it_was(db, sql) -> None:
    """Issue 12 point 15: each submission rewrote the dependency's array of dependents, so the n-th
    cost n. Now the dependency's row is not written at all: its tuple stays where it was, however
    many tasks come to depend on it."""
    dep = make_task(db, now=T0)

    def row_of(task):
        return sql.execute("SELECT ctid::text AS at, pg_column_size(t.*) AS size FROM phoenix.tasks t WHERE id = %s",
                           (task,)).fetchone()

    before = row_of(dep.id)
    dependents = [make_task(db, now=at(1), depends_on=[str(dep.id)]).id for _ in range(200)]
    assert row_of(dep.id) == before
    assert lifecycle.get(db, dep.id).blocks == sorted(dependents)
    assert sql.execute("SELECT count(*) AS n FROM phoenix.task_dependencies WHERE depends_on = %s",
                       (dep.id,)).fetchone()["n"] == 200
    # completing it releases all of them at once
    worker = make_agent(db, now=T0)
    t = lifecycle.claim_start(db, worker.id, now=at(2))
    assert t.id == dep.id
    lifecycle.result(db, t.id, worker.id, t.attempt, {}, now=at(2))
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE id = ANY (%s) AND pending_deps = 0",
                       (dependents,)).fetchone()["n"] == 200


def test_links_show_to_an_agent_only_for_dependents_it_sees(db, sql, url) -> None:
    dep = make_task(db, now=T0, team="iota")
    theirs = make_task(db, now=T0, team="iota", depends_on=[str(dep.id)])
    spy, peer = make_agent(db, now=T0), make_agent(db, now=T0, team="iota")
    for login_url in login(sql, url, ROLES["agent"]):
        with psycopg.connect(login_url, autocommit=True, row_factory=dict_row) as conn:
            for agent, seen in ((spy, []), (peer, [theirs.id])):
                with conn.transaction():
                    conn.execute("SELECT set_config('phoenix.agent_id', %s, true)", (str(agent.id),))
                    rows = conn.execute("SELECT task_id FROM phoenix.task_dependencies WHERE depends_on = %s",
                                        (dep.id,)).fetchall()
                assert [r["task_id"] for r in rows] == seen
