"""Flow control from the command line (the real command in a subprocess): pause, status, resume,
drain with its progress and timeout, rate and budget, usage in `flow usage` and `agents show`,
`submit --at` and a concurrency key; bad input is one line on stderr, exit 1, and changes
nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import agents, lifecycle
from tests.conftest import snapshot


@pytest.mark.slow
def test_pause_status_drain_resume_rate_budget_and_usage(run, db):
    me, _ = agents.register(db, {"codename": "spender", "team": "iota"})
    task, _ = lifecycle.submit(db, {"title": "in flight", "team": "iota"})
    lifecycle.claim(db, me.id)

    assert "paused" in run("flow", "pause", "--team", "iota", "--reason", "deploy").stdout
    [gate] = json.loads(run("flow", "status", "--json").stdout)
    assert (gate["scope"], gate["held"], gate["paused_reason"], gate["in_flight"]) == ("iota", "paused", "deploy", 1)
    drained = run("flow", "drain", "--team", "iota", "--timeout", "0", ok=False)
    assert drained.returncode == 1 and "1 task(s) in flight" in drained.stderr and "still in flight" in drained.stderr
    lifecycle.result(db, task.id, me.id, 1, {"usage": {"tokens_in": 7, "tokens_out": 3, "cost": 0.5, "model": "m"}})
    assert "drained" in run("flow", "drain", "--team", "iota", "--timeout", "5").stdout
    assert "resumed" in run("flow", "resume", "--team", "iota").stdout

    assert "60 claims per minute" in run("flow", "rate", "--category", "llm", "--per-minute", "60").stdout
    run("flow", "budget", "--team", "iota", "--hour-cost", "0.25")
    held = {g["scope"]: g["held"] for g in json.loads(run("flow", "status", "--json").stdout)}
    assert held == {"iota": "budget", "llm": None}
    [used] = json.loads(run("flow", "usage", "--agent", "spender", "--json").stdout)
    assert (used["tokens_in"], used["tokens_out"], used["model"]) == (7, 3, "m")
    assert json.loads(run("agents", "show", "spender", "--json").stdout)["usage"][0]["attempts"] == 1


@pytest.mark.slow
def test_submit_at_and_a_concurrency_key(run, db):
    before = datetime.now(UTC)
    shown = json.loads(run("submit", "--title", "later", "--team", "iota", "--at", "+2h",
                           "--concurrency-key", "deploys", "--concurrency-limit", "2", "--json").stdout)
    assert datetime.fromisoformat(shown["available_at"]) >= before + timedelta(hours=2)
    assert (shown["concurrency_key"], shown["concurrency_limit"]) == ("deploys", 2)


@pytest.mark.parametrize("args", [
    ("flow", "pause"),
    ("flow", "pause", "--team", "iota", "--category", "llm"),
    ("flow", "pause", "--team", "No Team"),
    ("flow", "rate", "--team", "iota", "--per-minute", "0"),
    ("flow", "budget", "--category", "llm", "--day-tokens", "-5"),
    ("flow", "drain", "--team", "iota", "--timeout", "-1"),
    ("submit", "--title", "x", "--team", "iota", "--concurrency-limit", "3"),
    ("submit", "--title", "x", "--team", "iota", "--at", "tomorrow"),
])
def test_bad_input_is_one_line_and_changes_nothing(run, sql, args):
    before = snapshot(sql), sql.execute("SELECT count(*) AS n FROM phoenix.claim_gates").fetchone()["n"]
    done = run(*args, ok=False)
    assert done.returncode == 1 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert (snapshot(sql), sql.execute("SELECT count(*) AS n FROM phoenix.claim_gates").fetchone()["n"]) == before
