"""A user's view of agents and teams (issue 13, point 11): `agents show` lists the tasks the
agent claimed, completed and failed; `board` filters by assignee and creator; teams are listed and
created from the command line."""

from __future__ import annotations

import json

import pytest

from phoenix_board.board import agents, ids, lifecycle
from tests.conftest import snapshot


@pytest.mark.slow
def test_agent_tasks_board_filters_and_teams(run, db, sql):
    me, _ = agents.register(db, {"codename": "worker-1", "team": "iota"})
    author, _ = agents.register(db, {"codename": "author-1", "team": "iota"})
    done, _ = lifecycle.submit(db, {"title": "the one I finished", "team": "iota", "created_by": author.id})
    lifecycle.claim(db, me.id)
    lifecycle.result(db, done.id, me.id, 1, {"ok": True}, 0.8)
    broken, _ = lifecycle.submit(db, {"title": "the one I failed", "team": "iota", "max_attempts": 1})
    lifecycle.claim(db, me.id)
    lifecycle.fail(db, broken.id, me.id, 1, "no access")
    lifecycle.submit(db, {"title": "nobody's yet", "team": "iota"})

    shown = json.loads(run("agents", "show", "worker-1", "--json").stdout)
    assert shown["tasks"] == {"claimed": 2, "completed": 1, "failed": 1}
    assert [(t["title"], t["last_event"]) for t in shown["recent_tasks"]] == [
        ("the one I failed", "failed"), ("the one I finished", "completed")]
    human = run("agents", "show", "worker-1").stdout
    assert ids.short_one(done.id) in human and "claimed 2, completed 1, failed 1" in human

    mine = json.loads(run("board", "--assignee", "worker-1", "--sort", "new", "--json").stdout)["tasks"]
    assert [t["title"] for t in mine] == ["the one I failed", "the one I finished"]
    theirs = json.loads(run("board", "--creator", "author-1", "--json").stdout)["tasks"]
    assert [t["title"] for t in theirs] == ["the one I finished"]
    assert "not found" in run("board", "--assignee", "nobody", ok=False).stderr

    run("teams", "create", "beta", "--description", "the second team")
    listed = {t["name"]: t for t in json.loads(run("teams", "list", "--json").stdout)}
    assert listed["beta"]["description"] == "the second team" and listed["iota"]["agents"] == 2
    assert listed["iota"]["live_tasks"] == 1 and "beta" in run("teams", "list").stdout
    run("agents", "register", "newcomer", "--team", "beta")
    before = snapshot(sql)
    assert "exists already" in run("teams", "create", "beta", ok=False).stderr
    bad = run("teams", "create", "Bad-Name", ok=False)
    assert bad.returncode == 1 and "lowercase" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert snapshot(sql) == before
