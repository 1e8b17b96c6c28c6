"""Stopping `up` as a user does: Ctrl-C in a terminal reaches the whole foreground process group,
yet the servers stop after the agents; a part that dies quotes this run's log, not an earlier one."""

from __future__ import annotations

import re

import pytest

from tests.conftest import wait_for
from tests.uprun import Up, clean_env, of_data_dir, run

pytestmark = pytest.mark.slow
SHUTDOWN_ERRORS = ("Couldn't ack", "ConnectionRefusedError", "ConnectionError", "IndexError", "Traceback")


def _this_run(log: str) -> str:
    return log[log.rindex("==== "):]


def test_ctrl_c_stops_the_agents_before_the_broker(tmp_path):
    env = clean_env(tmp_path)
    up = Up(tmp_path, env, ["--agents", "2", "--team", "iota", "--team", "alpha_delta", "--demo", "--rate", "20"])
    try:
        up.wait_ready()
        logs = tmp_path / "data" / "logs"
        # agents at work: tasks completed since this run began, so that acks are in flight
        wait_for(lambda: re.search(r"completed [1-9]", up.output()), timeout=120, what="completed demo tasks")
        up.ctrl_c()
        assert up.proc.wait(timeout=120) == 0, up.output()[-3000:]
        for name in ("workers-iota", "workers-alpha_delta", "beat", "relay"):
            text = _this_run((logs / f"{name}.log").read_text(errors="replace"))
            assert "Warm shutdown" in text or name == "relay", text[-2000:]
            found = [e for e in SHUTDOWN_ERRORS if e in text]
            assert not found, (name, found, text[-3000:])
        wait_for(lambda: not of_data_dir(tmp_path), timeout=30, what="every process of the board to exit")
    finally:
        run(["down"], env, tmp_path)


def test_a_part_that_stops_at_start_quotes_this_runs_log_with_timestamps(tmp_path):
    env = clean_env(tmp_path)
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    (logs / "workers-nosuchteam.log").write_text("a line an earlier run left here\n")
    done = run(["up", "--agents", "1", "--team", "nosuchteam"], env, tmp_path, timeout=300)
    assert done.returncode == 1
    created, line = done.stderr.strip().splitlines()  # where the new board is, then the error
    assert created.startswith("creating a new board in "), done.stderr
    assert line.startswith("error: workers-nosuchteam stopped at start: ") and "\n" not in line, line
    assert "team nosuchteam not found" in line and "earlier run" not in line, line
    text = (logs / "workers-nosuchteam.log").read_text()
    assert re.search(r"^==== \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 up \(pid \d+\) starts workers-nosuchteam ====$",
                     text, re.M), text
    wait_for(lambda: not of_data_dir(tmp_path), timeout=30, what="every process of the board to exit")
