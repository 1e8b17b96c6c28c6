"""`phoenix-board schedules`: add (a task file, flags, or both), list, pause, resume, run-now,
remove; and bad input refused with one line on stderr, exit 1 and nothing written."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_one_line


def count(sql, table: str = "schedules") -> int:
    return sql.execute(f"SELECT count(*) AS n FROM phoenix.{table}").fetchone()["n"]


@pytest.mark.slow  # a dozen commands, one after another
def test_a_schedules_life_through_the_command_line(run, sql, tmp_path):
    task = tmp_path / "task.json"
    task.write_text(json.dumps({"title": "report", "team": "iota", "category": "noop", "size": 3}))
    out = run("schedules", "add", "report", "--cron", "0 7 * * MON-FRI", "--task-file", str(task),
              "--timezone", "Europe/Berlin", "--priority", "8", "--json")
    added = json.loads(out.stdout)
    assert (added["cron"], added["timezone"], added["catch_up"], added["paused"]) == ("0 7 * * MON-FRI",
                                                                                     "Europe/Berlin", "latest", False)
    assert added["task"]["priority"] == 8 and added["task"]["fibonacci_size"] == 3  # the flag overrides the file
    run("schedules", "add", "flags", "--cron", "*/5 * * * *", "--title", "t", "--team", "alpha_delta",
        "--category", "noop", "--catch-up", "all")
    listed = run("schedules", "list").stdout
    assert "report" in listed and "Europe/Berlin" in listed and "CET" in listed and "flags" in listed
    run("schedules", "pause", "report")
    rows = {r["name"]: r for r in json.loads(run("schedules", "list", "--json").stdout)}
    assert rows["report"]["paused"] and rows["report"]["next_fire"] is None
    assert "paused" in run("schedules", "list").stdout
    short = run("schedules", "run-now", "report", "-q").stdout.strip()
    shown = run("show", short).stdout
    assert "report" in shown and "scheduled" in shown  # the task's history names its schedule
    keyed = run("schedules", "run-now", "report", "--key", "release-7", "-q").stdout.strip()
    again = run("schedules", "run-now", "report", "--key", "release-7").stdout  # a retry: the same task
    assert "already run with this key" in again and keyed in again
    bad = run("schedules", "run-now", "report", "--key", "", ok=False)
    assert bad.returncode == 1 and "idempotency_key must be 1-" in bad.stderr
    assert_one_line(bad.stderr.strip())
    run("schedules", "resume", "report")
    assert not json.loads(run("schedules", "list", "--json").stdout)[1]["paused"]
    run("schedules", "remove", "flags")
    assert [r["name"] for r in json.loads(run("schedules", "list", "--json").stdout)] == ["report"]
    assert count(sql, "tasks") == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--cron", "*/5 * * *", "--title", "t", "--team", "iota"], "has 4 fields"),
    (["--cron", "61 * * * *", "--title", "t", "--team", "iota"], "bad minute"),
    (["--cron", "* * * * *", "--title", "t", "--team", "iota", "--timezone", "Nowhere/City"], "not found"),
    (["--cron", "* * * * *", "--title", "t", "--team", "iota", "--catch-up", "most"], "catch-up 'most'"),
    (["--cron", "* * * * *", "--team", "iota"], "title is required"),
    (["--cron", "* * * * *", "--title", "t", "--team", "iota", "--priority", "42"], "priority"),
    (["--cron", "* * * * *", "--task-file", "missing.json"], "cannot read missing.json"),
    (["--cron", "* * * * *", "--task-file", "bad.json"], "unknown field 'colour'"),
    (["--cron", "* * * * *", "--task-file", "keyed.json"], "no idempotency_key"),
    (["--cron", "* * * * *", "--title", "t", "--team", "nosuchteam"], "team nosuchteam not found"),
])
def test_bad_input_is_one_line_and_writes_nothing(run, sql, tmp_path, args, message):
    (tmp_path / "bad.json").write_text(json.dumps({"title": "t", "team": "iota", "colour": "red"}))
    (tmp_path / "keyed.json").write_text(json.dumps({"title": "t", "team": "iota", "key": "k"}))
    out = run("schedules", "add", "s", *args, ok=False)
    assert out.returncode == 1, out.stderr
    line = out.stderr.strip()
    assert line.startswith("error: ") and message in line, line
    assert_one_line(line)
    assert count(sql) == 0


def test_unknown_schedules_are_not_found(run):
    for command in ("pause", "resume", "run-now", "remove"):
        out = run("schedules", command, "nope", ok=False)
        assert out.returncode == 1 and "schedule 'nope' not found" in out.stderr
