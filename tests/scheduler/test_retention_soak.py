"""A soak run of retention (docs/operations/retention.md): a steady load of tasks (submitted,
claimed, completed, voted on and commented) with the clock moved a day per round, the beat's
jobs run as the beat would, and the table sizes flat once the retention window is full."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import agents, audit, comments, lifecycle, retention, votes
from phoenix_board.scheduler import jobs
from tests.conftest import make_agent, make_task

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAYS = 7  # the shortest retention allowed, so the window fills soonest
ROUNDS = 20
PER_ROUND = 15


@pytest.mark.slow
def test_table_sizes_stay_flat_under_a_steady_load_with_retention_on(db):
    workers = [make_agent(db, now=T0) for _ in range(3)]
    sizes: list[dict[str, int]] = []
    for day in range(ROUNDS):
        now = T0 + timedelta(days=day)
        for i in range(PER_ROUND):
            make_task(db, now=now)
            agent = workers[i % 3]
            t = lifecycle.claim_start(db, agent.id, now=now)
            lifecycle.result(db, t.id, agent.id, t.attempt, {"day": day}, 0.8, now=now)
            votes.vote(db, t.id, workers[(i + 1) % 3].id, 1, now=now)
            comments.add(db, t.id, workers[(i + 2) % 3].id, "looks right", now=now)
        for agent in workers:
            agents.heartbeat(db, agent.id, now=now)
        jobs.hormone_cascades(db, now)
        jobs.task_retention(db, DAYS, now)
        sizes.append(retention.table_rows(db))
    print("soak table sizes by day:", [(s["tasks"], s["task_events"], s["agent_interactions"]) for s in sizes])
    full = sizes[DAYS + 1:]  # once the window holds DAYS days of work
    for table in ("tasks", "task_events", "agent_interactions", "task_votes", "task_comments"):
        seen = [s[table] for s in full]
        assert max(seen) - min(seen) <= max(seen) * 0.1, (table, seen)
        assert max(seen) < sizes[-1]["tasks"] * 20  # bounded by the window, not by the whole run
    assert sizes[-1]["tasks"] <= (DAYS + 1) * PER_ROUND
    assert audit.verify(db).ok
