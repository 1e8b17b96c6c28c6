"""Reviews with real Celery workers (docs/concepts/review.md): a review is a place on the board that live
agents claim, so a lost review request, or a reviewer that did not exist when the result was
submitted, never leaves a task in review for ever."""

from __future__ import annotations

import pytest
import redis

from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def alive(sql, prefix: str) -> int:
    return sql.execute("SELECT count(*) AS n FROM phoenix.agents WHERE codename LIKE %s "
                       "AND last_heartbeat > now() - interval '3 seconds'", (f"{prefix}-%",)).fetchone()["n"]


def test_a_lost_review_request_is_taken_by_an_agent_added_later(pools, client, sql, env):
    # one agent: it executes the task, and no live peer may review it
    pools.start("iota", agents=1, name="solo")
    wait_for(lambda: alive(sql, "solo") == 1, what="the executor")
    key = client.submit({"title": "needs a peer", "team": "iota", "category": "noop", "review_quorum": 1})
    task = wait_for(lambda: (t := client.status(key)) and t.status == "review" and t, what="the result in review")

    # every message on the broker is lost: wake-ups, review requests, anything unacknowledged
    broker = redis.Redis.from_url(env["PHOENIX_REDIS_URL"])
    lost = [k for k in broker.keys("*") if k.startswith(env["PHOENIX_QUEUE_PREFIX"].encode()) or b"unacked" in k]
    if lost:
        broker.delete(*lost)
    broker.close()

    # an agent that did not exist when the result was submitted is asked (through the board)
    pools.start("iota", agents=1, name="late")
    done = wait_for(lambda: (t := client.status(key)) and t.status == "complete" and t, timeout=90,
                    what="the review by the agent added later")
    reviewers = sql.execute("SELECT a.codename FROM phoenix.task_reviews r JOIN phoenix.agents a ON a.id = r.agent_id "
                            "WHERE r.task_id = %s", (task.id,)).fetchall()
    assert [r["codename"] for r in reviewers] == ["late-0"]
    assert done.assigned_to == task.assigned_to  # the executor's work, approved once
    events = sql.execute("SELECT kind FROM phoenix.task_events WHERE task_id = %s AND kind IN ('reviewed', 'completed')",
                         (task.id,)).fetchall()
    assert sorted(e["kind"] for e in events) == ["completed", "reviewed"]
    assert sql.execute("SELECT count(*) AS n FROM phoenix.review_assignments").fetchone()["n"] == 0


def test_many_reviews_through_the_queue_each_decided_once(pools, client, sql):
    pools.start("alpha_delta", agents=3, name="rev")
    keys = client.submit_many([{"title": f"r{i}", "team": "alpha_delta", "category": "noop", "review_quorum": 2}
                               for i in range(30)])
    wait_for(lambda: all((t := client.status(k)) and t.status == "complete" for k in keys), timeout=180,
             what="every task approved")
    rows = sql.execute("SELECT t.id, count(r.*) AS n, bool_or(r.agent_id = t.assigned_to) AS own "
                       "FROM phoenix.tasks t JOIN phoenix.task_reviews r ON r.task_id = t.id GROUP BY t.id").fetchall()
    assert len(rows) == 30 and all(r["n"] == 2 and not r["own"] for r in rows)
    decided = sql.execute("SELECT task_id, count(*) AS n FROM phoenix.task_events WHERE kind = 'completed' "
                          "GROUP BY task_id").fetchall()
    assert len(decided) == 30 and all(r["n"] == 1 for r in decided)
    assert "40P01" not in pools.log("rev")  # no review (or claim meeting one) deadlocked and retried
