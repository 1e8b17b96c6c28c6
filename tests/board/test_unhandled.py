"""A category no agent has a handler for (issue 13, point 4): the task fails at once, for good,
with that reason, and the agent that met it is not blamed: no failure count, no cortisol, no trust
rating. Called as the agent role, the door the workers use; the workers' own path is in
tests/workers/test_agents_on_celery.py."""

from __future__ import annotations

import pytest

from phoenix_board.board import agents, errors, lifecycle
from phoenix_board.board.db import acting_as
from tests.conftest import make_agent, make_task, snapshot


def test_unhandled_fails_at_once_and_blames_no_one(agent_db, db, sql):  # noqa: F811
    me = make_agent(db, team="iota")
    other = make_agent(db, team="iota")
    task = make_task(db, team="iota", title="general work")  # default category, three attempts
    assert task.category == "general" and task.max_attempts == 3
    with acting_as(me.id):
        claimed = lifecycle.claim(agent_db, me.id)
        assert claimed.id == task.id
        before = agents.get(db, me.id)
        with acting_as(other.id), pytest.raises(errors.BoardError):  # not another agent's to fail
            lifecycle.fail_unhandled(agent_db, task.id, other.id, 1)
        done = lifecycle.fail_unhandled(agent_db, task.id, me.id, 1)
    assert done.status.value == "failed" and done.attempt == 1
    assert "no handler for category 'general'" in done.last_error and "no agent blamed" in done.last_error
    after = agents.get(db, me.id)
    assert after.current_task is None
    assert (after.tasks_failed, after.trust_coefficient, after.hormone_levels) == \
           (before.tasks_failed, before.trust_coefficient, before.hormone_levels)
    outcomes = sql.execute("SELECT count(*) AS n FROM phoenix.agent_interactions WHERE agent_to = %s",
                           (me.id,)).fetchone()["n"]
    assert outcomes == 0
    events = [e["kind"] for e in lifecycle.events(db, task.id)]
    assert events == ["submitted", "claimed", "failed"]
    # a stale call changes nothing
    snap = snapshot(sql)
    with acting_as(me.id), pytest.raises(errors.Conflict):
        lifecycle.fail_unhandled(agent_db, task.id, me.id, 1)
    assert snapshot(sql) == snap
