"""Flow control with real agent pools (issue 17, item 7): three `workers` pools on one team,
each with agents of its own processes and connections. A pause takes effect for every pool
within one claim, a drain returns once their work in flight is done, and a rate limit's bound
holds across the pools; all counted from task_events."""

from __future__ import annotations

from collections import Counter

import pytest

from phoenix_board.board import gates, lifecycle
from tests.conftest import wait_for

pytestmark = pytest.mark.slow

TEAM = "iota"


def claims(sql, after: int = 0) -> list[dict]:
    return sql.execute("SELECT id, agent_id, at FROM phoenix.task_events WHERE kind = 'claimed' AND id > %s ORDER BY id",
                       (after,)).fetchall()


def test_pause_drain_and_a_rate_limit_hold_across_three_pools(pools, db, sql):
    for i in range(3):
        pools.start(TEAM, agents=2, name=f"pool-{i}")
    for i in range(400):
        lifecycle.submit(db, {"title": f"work {i}", "team": TEAM, "category": "sleep", "payload": {"seconds": 0.05}})
    wait_for(lambda: len({c["agent_id"] for c in claims(sql)}) >= 6, 120, "every agent of the three pools claiming")

    gates.pause(db, "team", TEAM)
    paused_at = sql.execute("SELECT max(id) AS id FROM phoenix.task_events").fetchone()["id"]
    assert gates.drain(db, "team", TEAM, timeout=60) == 0
    after = Counter(c["agent_id"] for c in claims(sql, paused_at))
    assert all(n <= 1 for n in after.values()), after  # a claim under way may finish; none follows
    open_left = sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'open'").fetchone()["n"]
    assert open_left > 0

    # resumed under a rate limit of 120 a minute, burst 1: one claim per half second, whoever asks
    gates.rate(db, "team", TEAM, 120, burst=1)
    gates.resume(db, "team", TEAM)
    resumed_at = sql.execute("SELECT max(id) AS id FROM phoenix.task_events").fetchone()["id"]
    wait_for(lambda: len(claims(sql, resumed_at)) >= 12, 120, "claims under the rate limit")
    limited = claims(sql, resumed_at)
    span = (limited[-1]["at"] - limited[0]["at"]).total_seconds()
    assert len(limited) <= 1 + span * 2 + 1e-9  # never above the limit
    assert len({c["agent_id"] for c in limited}) > 1  # shared by the pools, not one agent's pace
