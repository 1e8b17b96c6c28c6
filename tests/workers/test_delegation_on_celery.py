"""Delegation with real worker processes: demo `plan` tasks split into steps through the runtime."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def count(sql, query: str, *args) -> int:
    return sql.execute(query, args).fetchone()["n"]


def test_plans_delegate_and_join_exactly_once_when_a_pool_process_is_killed(pools, client, sql):
    victim = pools.start("iota", agents=2, name="a")
    pools.start("iota", agents=2, name="b")
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents") == 4, what="agents")
    keys = [client.submit({"title": f"plan {i}", "team": "iota", "category": "plan"}) for i in range(6)]
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE parent_id IS NOT NULL") > 0,
             what="a delegation")
    # whatever it held (a parent before its split, a step, a parent back from its join) is redone
    pools.children(victim)[0].send_signal(signal.SIGKILL)
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE parent_id IS NULL "
                                "AND status = 'complete'") == 6, timeout=180, what="six plans complete")
    assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status <> 'complete'") == 0
    assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE parent_id IS NOT NULL") >= 12
    rows = sql.execute("SELECT task_id, count(*) FILTER (WHERE kind = 'completed') AS c, "
                       "count(*) FILTER (WHERE kind = 'joined') AS j FROM phoenix.task_events GROUP BY task_id").fetchall()
    assert all(r["c"] == 1 for r in rows)
    plans = sql.execute("SELECT id, output, children_total FROM phoenix.tasks WHERE parent_id IS NULL").fetchall()
    assert {r["idempotency_key"] for r in sql.execute("SELECT idempotency_key FROM phoenix.tasks WHERE parent_id IS NULL")} == set(keys)
    joined = {r["task_id"]: r["j"] for r in rows}
    for p in plans:
        assert joined[p["id"]] == 1
        assert p["output"]["steps"] == p["children_total"] == p["output"]["completed"]
