"""Duplicate submissions and wake-ups, and a zombie replaying calls for an attempt it lost; run
through the command, which prints the figures as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from phoenix_board.harness.faults import scenarios as faults


def run_faults(server_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PHOENIX_DATABASE_URL": server_url}
    return subprocess.run([sys.executable, "-m", "phoenix_board.harness.faults", *args],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_duplicate_and_stale_messages_change_nothing(server_url):
    done = run_faults(server_url, "--scenario", "duplicates", "--tasks", "32", "--agents", "2",
                        "--lease", "3", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    figures = result["scenarios"]["duplicates"]
    assert result["target_met"] and figures["target_met"]
    assert figures["settled"] and figures["lost"] == 0
    assert figures["duplicated_completions"] == 0 and figures["duplicated_effects"] == 0
    assert figures["messages_sent"] == 4 * 8 and figures["unique_keys"] == 8
    assert figures["tasks_created_twice"] == 0 and figures["on_board"] == 8 + faults.ZOMBIES
    assert figures["zombie_claims"] >= 1
    # result, renew and fail for the lapsed attempt, while the next attempt ran and after it completed
    assert figures["stale_replays"] == 6 * figures["zombie_claims"]
    assert figures["stale_applied"] == 0


def test_unknown_scenario_is_refused_in_one_line(server_url):
    done = run_faults(server_url, "--scenario", "meteor")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: unknown scenario meteor; choose from kill, redis, postgres, duplicates, vacuum"]
