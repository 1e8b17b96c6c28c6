"""The command line as a newcomer meets it (issue 13, point 7): --version, help that marks
required options and shows no type noise, task files with the flags' names, -1 as a vote, plain
output unless --json, a warning for a category nobody handles, queue messages that say what
happened, and `events tail` finding the broker the queue commands find."""

from __future__ import annotations

import json
import re

import pytest

from phoenix_board import __version__
from tests.conftest import snapshot


@pytest.mark.slow
def test_version_and_help(run):
    assert run("--version").stdout.strip() == f"phoenix-board {__version__}"
    helps = {c: run(*c.split(), "--help").stdout for c in ("board", "submit", "agents", "agents register", "task fail")}
    for text in helps.values():
        assert "<bool>" not in text
    assert "[required]" in helps["agents register"] and "[required]" in helps["task fail"]
    # the group's description names every subcommand, and choices are never cut mid-word
    described = helps["agents"].split("Options:")[0]
    for sub in ("register", "list", "show", "decommission", "pair", "unpair", "pairs", "supervise"):
        assert re.search(rf"\b{sub}\b", described), sub
    # `supervise --remove` is the one way to remove a supervisor: the old spelling is not offered
    assert "supervise --remove" in described and "unsupervise" not in helps["agents"]
    assert "in_progress" in helps["board"] and "most_comments" in helps["board"]


def test_task_file_takes_the_flags_names_and_lists_valid_fields(run, tmp_path, sql):
    spec = tmp_path / "task.json"
    spec.write_text(json.dumps({"title": "Write the runbook", "team": "iota", "size": 3, "key": "runbook-v1",
                                "category": "noop", "max-attempts": 2}))
    task = json.loads(run("submit", "--file", str(spec), "--json").stdout)
    assert (task["fibonacci_size"], task["idempotency_key"], task["max_attempts"]) == (3, "runbook-v1", 2)
    before = snapshot(sql)
    spec.write_text(json.dumps({"title": "t", "team": "iota", "sizes": 3}))
    bad = run("submit", "--file", str(spec), ok=False)
    assert bad.returncode == 1 and len(bad.stderr.splitlines()) == 1
    assert "unknown field 'sizes'" in bad.stderr and "fibonacci_size" in bad.stderr and "size" in bad.stderr
    spec.write_text(json.dumps({"title": "t", "team": "iota", "size": 3, "fibonacci_size": 5}))
    assert "given twice" in run("submit", "--file", str(spec), ok=False).stderr
    assert snapshot(sql) == before


def test_a_category_without_handler_is_warned_about(run):
    warned = run("submit", "--title", "t", "--team", "iota")
    assert "warning: no handler for category general" in warned.stderr and "noop" in warned.stderr
    assert len(warned.stderr.splitlines()) == 1
    assert run("submit", "--title", "t", "--team", "iota", "--category", "noop").stderr == ""


def test_migrate_status_is_plain_unless_json(run):
    plain = run("migrate", "--status").stdout
    assert "pending: none" in plain and "{" not in plain
    assert json.loads(run("migrate", "--status", "--json").stdout)["pending"] == []


@pytest.mark.slow
def test_queue_vote_says_what_happened_and_events_tail_finds_the_broker(run, db, sql, cli_env):
    from phoenix_board.board import agents, lifecycle
    # no `up` runs for this board: the queue commands may start its embedded Valkey only when asked
    cli_env["PHOENIX_EMBEDDED_SERVERS"] = "1"

    agents.register(db, {"codename": "voter-1", "team": "iota"})
    task, _ = lifecycle.submit(db, {"title": "t", "team": "iota", "category": "noop"})
    before = snapshot(sql)
    assert "not found" in run("queue", "vote", task.id.hex[-7:], "up", "--agent", "nobody", ok=False).stderr
    assert snapshot(sql) == before
    # no worker runs here, so nothing applies the vote: the command says so and where to look
    left = run("queue", "vote", task.id.hex[-7:], "-1", "--agent", "voter-1", "--wait", "1", ok=False)
    assert left.returncode == 1 and len(left.stderr.splitlines()) == 1
    assert "not applied within 1 s" in left.stderr and "logs/workers-iota.log" in left.stderr
    # the embedded broker the queue command used (started for it, as `queue` does) is found again
    tail = run("events", "tail", "--count", "1")
    assert tail.returncode == 0
