"""Retry and requeue from the command line (docs/operations/retry.md): `task retry`, and `tasks
retry|cancel` by filter, which count first (`--dry-run` stops there), ask before acting unless
`--yes`, and refuse a bad filter in one line, changing nothing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from phoenix_board.board import lifecycle
from tests.cli.conftest import js
from tests.conftest import make_agent, make_task, snapshot


def failed(db, n: int, category: str = "general") -> list:
    agent = make_agent(db)
    ids = [make_task(db, max_attempts=1, category=category).id for _ in range(n)]
    for _ in ids:
        t = lifecycle.claim_start(db, agent.id)
        lifecycle.fail(db, t.id, agent.id, t.attempt, "upstream timeout")
    return ids


@pytest.mark.slow
def test_task_retry_and_bulk_retry_with_dry_run_confirmation_and_yes(run, db, sql, cli_env, tmp_path):
    ids = failed(db, 3, category="flaky")
    done = run("task", "retry", str(ids[0]), "--reason", "fixed", "--json")
    assert js(done)["status"] == "open" and js(done)["retried"] == 1
    again = run("task", "retry", str(ids[0]), ok=False)
    assert again.returncode == 1 and again.stderr.count("\n") == 1 and "only a failed or cancelled task" in again.stderr

    before = snapshot(sql)
    dry = run("tasks", "retry", "--category", "flaky", "--reason-like", "%TIMEOUT%", "--dry-run", "--json")
    assert js(dry) == {"action": "retry", "matched": 2, "dry_run": True}
    # no --yes and no "y" on stdin: nothing happens
    asked = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "tasks", "retry", "--category", "flaky"],
                           input="n\n", capture_output=True, text=True, env=cli_env, cwd=tmp_path, timeout=120)
    assert asked.returncode == 1 and "retry 2 task(s)?" in asked.stderr
    assert snapshot(sql) == before
    got = run("tasks", "retry", "--category", "flaky", "--yes", "--batch", "1", "--json")
    assert (js(got)["matched"], js(got)["done"], js(got)["skipped"]) == (2, 2, 0)
    assert {lifecycle.get(db, t).status for t in ids} == {"open"}
    cancelled = run("tasks", "cancel", "--category", "flaky", "--yes")
    assert "3 of 3 task(s) cancelled" in cancelled.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("args", "message"), [
    ([], "give at least one of"),
    (["--status", "open"], "retry takes tasks that are failed, cancelled, not open"),
    (["--team", "'; DROP TABLE phoenix.tasks; --"], "team"),
    (["--since", "yesterday"], "is neither a duration"),
    (["--since", "2026-01-01T00:00:00"], "ISO 8601 time with its zone"),
    (["--reason-like", "x" * 300], "reason_like"),
    (["--batch", "0", "--team", "iota"], "batch"),
])
def test_bad_bulk_filters_are_refused_in_one_line(run, db, sql, args, message):
    failed(db, 1)
    before = snapshot(sql)
    got = run("tasks", "retry", "--yes", *args, ok=False)
    assert got.returncode != 0 and message in got.stderr
    assert len(got.stderr.strip().splitlines()) == 1 or "Usage" in got.stderr
    assert snapshot(sql) == before
