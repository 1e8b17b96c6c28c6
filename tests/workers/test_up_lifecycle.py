"""One `up` per data directory, `status` and `down`, and nothing left running after `kill -9` of
`up`: real `up` processes with their embedded PostgreSQL and Valkey, counted with psutil."""

from __future__ import annotations

import os
import signal

import psutil
import pytest

from tests.conftest import wait_for
from tests.uprun import Up, clean_env, of_data_dir, recorded_pids, run, running

pytestmark = pytest.mark.slow


def test_second_up_is_refused_status_shows_what_runs_and_down_stops_it(tmp_path):
    env = clean_env(tmp_path)
    first = Up(tmp_path, env)
    try:
        first.wait_ready()
        second = run(["up", "--agents", "1", "--team", "iota"], env, tmp_path)
        assert second.returncode == 1
        line = second.stderr.strip()
        assert "\n" not in line, line
        assert line.startswith("error: up is already running for ") and f"pid {first.proc.pid} since " in line, line
        assert "phoenix-board down" in line and "/metrics" in line

        shown = run(["status"], env, tmp_path)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        for name in ("up", "watchdog", "postgres", "valkey", "workers-iota", "beat", "metrics", "relay"):
            assert any(l.split()[0] == name and " alive" in l for l in shown.stdout.splitlines()[1:]), (name, shown.stdout)
        status = first.status()
        assert status["running"] and all(p["alive"] for p in status["processes"])

        # /metrics listens on the loopback interface only unless asked otherwise
        exporter = next(p for p in status["processes"] if p["name"] == "metrics")
        listening = [c.laddr for pid in exporter["pids"] for c in psutil.Process(pid).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN]
        assert listening and {a.ip for a in listening} == {"127.0.0.1"}, listening

        stopped = run(["down"], env, tmp_path)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.startswith(f"stopped up (pid {first.proc.pid})"), stopped.stdout
        assert first.proc.wait(timeout=60) == 0, first.output()[-3000:]
        wait_for(lambda: not of_data_dir(tmp_path), timeout=30, what="every process of the board to exit")
        after = run(["status"], env, tmp_path)
        assert after.returncode == 3 and after.stdout.startswith("no up runs for "), after.stdout
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
        run(["down"], env, tmp_path)


def test_kill_9_of_up_leaves_no_process_running(tmp_path):
    env = clean_env(tmp_path)
    up = Up(tmp_path, env, ["--agents", "2", "--team", "iota", "--team", "alpha_delta"])
    try:
        up.wait_ready()
        pids = recorded_pids(up.status())
        assert len(pids) >= 10  # up, watchdog, postgres, valkey, 2 worker mains + 4 pool processes, ...
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait(timeout=10)
        # the watchdog notices at once and stops the agents, then the servers
        wait_for(lambda: not running(pids) and not of_data_dir(tmp_path), timeout=60,
                 what=f"the children of a killed up to stop (still running: {running(pids)})")
        assert "up (pid %d) died" % up.proc.pid in (tmp_path / "data" / "logs" / "watchdog.log").read_text()
        assert run(["status"], env, tmp_path).returncode == 3
    finally:
        run(["down"], env, tmp_path)


def test_a_new_up_stops_what_a_dead_one_left_when_its_watchdog_died_too(tmp_path):
    env = clean_env(tmp_path)
    up = Up(tmp_path, env)
    try:
        up.wait_ready()
        status = up.status()
        watchdog = next(p for p in status["processes"] if p["name"] == "watchdog")
        os.kill(watchdog["pid"], signal.SIGKILL)
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait(timeout=10)
        left = running(recorded_pids(status)) - {up.proc.pid, watchdog["pid"]}
        assert left, "nothing was left running, so this test would prove nothing"
        shown = run(["status"], env, tmp_path)
        assert shown.returncode == 3 and shown.stdout.startswith("no up (it died)"), shown.stdout

        again = run(["up", "--agents", "1", "--team", "iota", "--for", "3"], env, tmp_path, timeout=300)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert f"stopped what an earlier up (pid {up.proc.pid}) left running: " in again.stdout, again.stdout
        assert not running(left)
        wait_for(lambda: not of_data_dir(tmp_path), timeout=30, what="every process of the board to exit")
    finally:
        run(["down"], env, tmp_path)
