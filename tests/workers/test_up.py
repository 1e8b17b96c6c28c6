"""`phoenix-board up` on a fresh directory: embedded PostgreSQL and Valkey, real pools, real exit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import wait_for
from tests.uprun import clean_env, of_data_dir

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def test_up_demo_for_20_seconds(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "up", "--demo", "--for", "20", "--agents", "2"],
                          capture_output=True, text=True, cwd=tmp_path, env=clean_env(tmp_path), timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("summary: "))
    summary = json.loads(line.removeprefix("summary: "))
    assert summary["submitted"] > 0 and summary["completed"] > 0
    # a fifth of the demo's tasks are plans, which split into steps; pairs were set up per team
    assert summary["delegations"] > 0 and summary["children"] >= 2 * summary["delegations"]
    assert "pairs " in proc.stdout and "supervisor " in proc.stdout
    # up has returned; what it started may take a moment more to exit (not a timing check)
    wait_for(lambda: not of_data_dir(tmp_path), timeout=60, what=f"no process left under {tmp_path}")


def test_up_stops_everything_on_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "up", "--agents", "1", "--team", "iota"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env=clean_env(tmp_path))
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen += line
        if line.startswith("up"):
            break
    assert "up" in seen, seen
    assert len(of_data_dir(tmp_path)) >= 3  # up, the worker, its pool process, the servers
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    # up has returned; what it started may take a moment more to exit (not a timing check)
    wait_for(lambda: not of_data_dir(tmp_path), timeout=60, what=f"no process left under {tmp_path}")


def test_up_runs_thread_pools(tmp_path):
    # 20 agents per team, each team's pool one process (workers/thread_agents.py)
    proc = subprocess.run([sys.executable, "-m", "phoenix_board.cli", "up", "--demo", "--for", "15", "--agents", "20",
                           "--pool", "threads"],
                          capture_output=True, text=True, cwd=tmp_path, env=clean_env(tmp_path), timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("summary: ")).removeprefix("summary: "))
    assert summary["submitted"] > 0 and summary["completed"] > 0
    log = (tmp_path / "data" / "logs" / "workers-iota.log").read_text(errors="replace")
    assert "20 thread agents iota-0..19 on team iota" in log
    wait_for(lambda: not of_data_dir(tmp_path), timeout=60, what=f"no process left under {tmp_path}")
