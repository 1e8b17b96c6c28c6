"""The real `phoenix-board` command in a subprocess, against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.cli.conftest import assert_refused, js
from tests.conftest import snapshot


@pytest.mark.slow
def test_a_task_through_the_command_line(run, tmp_path):
    assert "up to date" in run("migrate").stdout
    author = js(run("agents", "register", "author-1", "--team", "iota", "--json"))
    run("agents", "register", "worker-1", "--team", "iota", "-s", "docs")
    spec = tmp_path / "task.json"
    spec.write_text(json.dumps({"title": "Write the runbook", "team": "iota", "priority": 8, "payload": {"pages": 3}}))
    task = js(run("submit", "--file", str(spec), "--created-by", "author-1", "--deadline", "+2h", "--json"))
    assert task["created"] and task["priority"] == 8 and task["created_by"] == author["id"]
    again = js(run("submit", "--title", "x", "--team", "iota", "--key", "k1", "--json"))
    assert js(run("submit", "--title", "x", "--team", "iota", "--key", "k1", "--json"))["id"] == again["id"]

    run("vote", task["id"], "up", "--agent", "worker-1", "--reason", "useful")
    run("comment", task["id"], "I can take it", "--agent", "worker-1")
    listing = js(run("board", "--sort", "top", "--json"))
    assert listing["tasks"][0]["id"] == task["id"] and listing["tasks"][0]["score"] == 1
    claimed = js(run("task", "claim", "--agent", "worker-1", "--json"))
    assert claimed["id"] == task["id"]
    run("task", "start", task["id"], "--agent", "worker-1", "--attempt", "1")
    run("task", "result", task["id"], "--agent", "worker-1", "--attempt", "1", "--output", '{"url": "x"}',
        "--quality", "0.9")
    shown = js(run("show", task["id"], "--json"))
    assert shown["task"]["status"] == "complete"
    assert [e["kind"] for e in shown["events"]] == ["submitted", "claimed", "started", "completed"]
    assert shown["votes"][0]["codename"] == "worker-1" and shown["comments"][0]["content"] == "I can take it"
    human = run("show", task["id"]).stdout
    assert "Write the runbook" in human and "completed" in human
    agents = js(run("agents", "list", "--json"))
    worker = next(a for a in agents if a["codename"] == "worker-1")
    assert worker["tasks_completed"] == 1 and worker["trust_coefficient"] > 0.5
    assert "worker-1" in run("agents", "show", "worker-1").stdout
    assert "board (hot)" in run("board").stdout


@pytest.mark.slow
def test_bad_input_prints_one_line_and_writes_nothing(run, sql):
    run("agents", "register", "author-1", "--team", "iota")
    run("agents", "register", "worker-1", "--team", "iota")
    task = js(run("submit", "--title", "t", "--team", "iota", "--created-by", "author-1", "--json"))
    before = snapshot(sql)
    cases = [
        (("show", str(uuid.uuid4())), "not found"),
        (("show", "not-a-uuid"), "not a valid id"),
        (("submit", "--title", "t", "--team", "iota", "--payload", "{bad json"), "not valid JSON"),
        (("submit", "--title", "", "--team", "iota"), "title"),
        (("submit", "--title", "t", "--team", "nowhere"), "team nowhere not found"),
        (("submit", "--title", "t", "--team", "iota", "--size", "4"), "fibonacci_size"),
        (("submit", "--title", "t", "--team", "iota", "--deadline", "tomorrow"), "neither"),
        (("submit", "--title", "t", "--team", "iota", "--depends-on", str(uuid.uuid4())), "not found"),
        (("submit", "--title", "t", "--team", "iota", "--file", "/nonexistent.json"), "cannot read"),
        (("vote", task["id"], "5", "--agent", "worker-1"), "vote must be"),
        (("vote", task["id"], "up", "--agent", "author-1"), "cannot vote on its own task"),
        (("vote", task["id"], "up", "--agent", "nobody"), "not found"),
        (("task", "start", task["id"], "--agent", "worker-1", "--attempt", "1"), "claim it first"),
        (("task", "result", task["id"], "--agent", "worker-1", "--attempt", "1", "--quality", "2"), "quality"),
        (("task", "review", task["id"], "--agent", "worker-1", "--verdict", "approve"), "not in review"),
        (("comment", task["id"], "", "--agent", "worker-1"), "content"),
        (("board", "--cursor", "garbage"), "invalid cursor"),
    ]
    for args, pattern in cases:
        assert_refused(run(*args, ok=False), pattern)
    assert snapshot(sql) == before


@pytest.mark.slow
def test_illegal_transition_and_stale_claim(run, sql):
    run("agents", "register", "w", "--team", "iota")
    task = js(run("submit", "--title", "t", "--team", "iota", "--json"))
    run("task", "claim", "--agent", "w")
    run("task", "start", task["id"], "--agent", "w", "--attempt", "1")
    before = snapshot(sql)
    assert_refused(run("task", "start", task["id"], "--agent", "w", "--attempt", "1", ok=False), "it is in_progress")
    assert_refused(run("task", "result", task["id"], "--agent", "w", "--attempt", "0", ok=False), "is stale")
    assert snapshot(sql) == before


@pytest.mark.slow
def test_usage_errors_exit_nonzero(run):
    proc = run("vote", ok=False)
    assert proc.returncode == 2 and "Missing argument" in proc.stderr
    assert run("--help").stdout.count("submit") >= 1
    for command in ("migrate", "submit", "board", "show", "vote", "comment", "agents", "task", "bench"):
        assert run(command, "--help").returncode == 0


def test_configuration_error_is_one_line(url, tmp_path):
    env = {**os.environ, "PHOENIX_DATABASE_URL": "host=/nonexistent port=1 dbname=x connect_timeout=1"}
    proc = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "board"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert_refused(proc, "")


@pytest.mark.slow
def test_delegation_from_the_command_line(run, sql):
    run("agents", "register", "lead-1", "--team", "iota")
    run("agents", "register", "helper-1", "--team", "iota")
    task = js(run("submit", "--title", "Plan the launch", "--team", "iota", "--json"))
    run("task", "claim", "--agent", "lead-1")
    before = snapshot(sql)
    assert_refused(run("task", "delegate", task["id"], "--agent", "lead-1", "--attempt", "1", "--children", "[]",
                       ok=False), "children must be a non-empty list")
    assert_refused(run("task", "delegate", task["id"], "--agent", "lead-1", "--attempt", "1", "--join", "3",
                       "--children", '[{"title": "a"}]', ok=False), "join must be")
    assert snapshot(sql) == before
    out = run("task", "delegate", task["id"], "--agent", "lead-1", "--attempt", "1", "--join", "any",
              "--children", '[{"title": "Draft the notes", "key": "notes"}, {"title": "Book the room", "key": "room"}]').stdout
    assert "waiting for 2 child(ren) (2 new)" in out
    tree = run("show", task["id"], "--tree").stdout
    assert "Plan the launch" in tree and "Draft the notes" in tree and "Book the room" in tree and "steps done 0 of 2 (needs 1; a failed step fails it)" in tree
    cancelled = run("task", "cancel", task["id"], "--reason", "launch moved").stdout
    assert "3 task(s) cancelled" in cancelled
    statuses = {r["status"] for r in sql.execute("SELECT status::text FROM phoenix.tasks").fetchall()}
    assert statuses == {"cancelled"}
