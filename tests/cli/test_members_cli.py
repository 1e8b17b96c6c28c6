"""`members add | list | remove | waiting`, `tokens create --member`, `submit --needs-person`, a member's
`task review` and `tasks failures`, through the real command."""

from __future__ import annotations

import json

import pytest

from phoenix_board.board import lifecycle
from tests.conftest import make_agent, snapshot

pytestmark = pytest.mark.slow  # a dozen commands, one process each


def test_members_through_the_command_line(run, db, sql):
    lonely = run("submit", "--title", "nobody to ask", "--team", "iota", "--needs-person")
    assert "warning: task" in lonely.stderr and "has no member" in lonely.stderr
    assert "added ada" in run("members", "add", "ada", "--team", "alpha_delta").stdout
    assert "already a member" in run("members", "add", "ada", "--team", "alpha_delta").stdout
    listed = json.loads(run("members", "list", "--json").stdout)
    assert [m["codename"] for m in listed] == ["ada"] and listed[0]["kind"] == "member"
    token = run("tokens", "create", "--member", "ada", "-q").stdout.strip()
    assert token.startswith("pbt_")
    assert "member" in run("tokens", "list").stdout

    executor = make_agent(db)
    task = run("submit", "-q", "--title", "check by hand", "--team", "alpha_delta", "--needs-person").stdout.strip()
    claim = lifecycle.claim(db, executor.id)
    lifecycle.result(db, claim.id, executor.id, claim.attempt)
    waiting = json.loads(run("members", "waiting", "--json").stdout)
    assert [w["title"] for w in waiting] == ["check by hand"]
    done = run("task", "review", task, "--agent", "ada", "--verdict", "approve").stdout
    assert "complete (approved)" in done
    assert "no task waits" in run("members", "waiting").stdout

    assert "removed member ada" in run("members", "remove", "ada").stdout
    assert "no members" in run("members", "list").stdout


def test_bad_member_commands_say_one_line_and_change_nothing(run, db, sql):
    make_agent(db, codename="bot-1")
    run("members", "add", "ada", "--team", "alpha_delta")
    before = snapshot(sql)
    for args, says in [(("members", "add", "bot-1", "--team", "alpha_delta"), "agent's codename"),
                       (("members", "add", "eve", "--team", "nope"), "team nope not found"),
                       (("members", "remove", "bot-1"), "is an agent, not a member"),
                       (("tokens", "create", "--member", "bot-1"), "is an agent, not a member"),
                       (("tokens", "create", "--agent", "ada"), "is a member, not an agent"),
                       (("tokens", "create", "--member", "ada", "--reader"), "exactly one of"),
                       (("task", "claim", "--agent", "ada"), "never claim"),
                       (("tasks", "failures", "--since", "soon"), "neither a duration")]:
        ran = run(*args, ok=False)
        assert ran.returncode == 1, args
        assert ran.stderr.startswith("error: ") and says in ran.stderr and len(ran.stderr.splitlines()) == 1, ran.stderr
    assert snapshot(sql) == before


def test_tasks_failures_groups_by_reason(run, db):
    agent = make_agent(db)
    for _ in range(2):
        task = lifecycle.submit(db, {"title": "x", "team": "alpha_delta", "max_attempts": 1})[0]
        claim = lifecycle.claim(db, agent.id)
        lifecycle.fail(db, task.id, agent.id, claim.attempt, "disk full")
    got = json.loads(run("tasks", "failures", "--json").stdout)
    assert [(f["reason"], f["attempts"], f["final"]) for f in got["failures"]] == [("disk full", 2, 2)]
    assert "disk full" in run("tasks", "failures", "--since", "2h", "--team", "alpha_delta").stdout
    assert "no failures" in run("tasks", "failures", "--team", "iota").stdout
