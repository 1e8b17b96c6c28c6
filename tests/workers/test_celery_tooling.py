"""Celery's own tools against real agent pools: `celery -A phoenix_board.workers.app` loads the
board's app, `inspect ping` and `inspect phoenix_agents` answer, `celery events` sees tasks, and a
real Flower's HTTP API lists the workers and their tasks (docs/operations/celery-tools.md)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path


import pytest

from tests.conftest import free_port, wait_for

CELERY = [sys.executable, "-m", "celery", "-A", "phoenix_board.workers.app"]


def celery(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CELERY, *args], env=env, capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def background(cmd: list[str], env: dict[str, str], log: Path):
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def complete(client, key: str) -> bool:
    task = client.status(key)
    return task is not None and task.status == "complete"


def get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return None


@pytest.mark.slow
def test_celery_tools_and_flower_see_the_agents_and_their_tasks(env, pools, client, tmp_path):
    env = {**env, "PHOENIX_TASK_EVENTS": "true"}
    pools.env = env
    pools.start(team="iota", agents=2, name="flowerpot")
    flower_port = free_port()
    flower_env = {**env, "FLOWER_UNAUTHENTICATED_API": "true"}
    with background([*CELERY, "events", "--dump"], env, tmp_path / "events.log"), \
            background([*CELERY, "flower", f"--port={flower_port}", "--address=127.0.0.1"], flower_env,
                       tmp_path / "flower.log"):
        # the app loads and the worker answers, under its codename prefix
        ping = wait_for(lambda: (r := celery(env, "inspect", "ping", "--timeout", "5")).returncode == 0 and r,
                        120, "inspect ping to answer")
        assert "flowerpot@" in ping.stdout and "pong" in ping.stdout, ping.stdout + ping.stderr
        agents = celery(env, "inspect", "phoenix_agents", "--json", "--timeout", "5")
        assert agents.returncode == 0, agents.stdout + agents.stderr
        replies = json.loads(agents.stdout)
        (node, reply), = replies.items()
        assert node.startswith("flowerpot@") and reply["team"] == "iota"
        assert sorted(a["codename"] for a in reply["agents"]) == ["flowerpot-0", "flowerpot-1"]
        submissions = celery(env, "inspect", "phoenix_submissions", "--json", "--timeout", "5")
        assert submissions.returncode == 0, submissions.stdout + submissions.stderr
        assert list(json.loads(submissions.stdout).values()) == [{"held": 0, "waiting": 0, "batches_in_flight": 0}]

        base = f"http://127.0.0.1:{flower_port}"
        wait_for(lambda: get_json(f"{base}/api/workers?refresh=1"), 120, "Flower's API")
        keys = [client.submit({"title": f"flower {i}", "team": "iota", "category": "noop"}) for i in range(3)]
        wait_for(lambda: all(complete(client, k) for k in keys), 120,
                 "the tasks to complete")

        workers = wait_for(lambda: (w := get_json(f"{base}/api/workers?refresh=1")) and
                           any(n.startswith("flowerpot@") for n in w) and w, 60, "Flower to list the worker")
        assert any(n.startswith("flowerpot@") for n in workers)
        tasks = wait_for(lambda: (t := get_json(f"{base}/api/tasks")) and
                         [v for v in t.values() if v.get("state") == "SUCCESS"
                          and (v.get("worker") or "").startswith("flowerpot@")] and t, 60,
                         "Flower to list the worker's tasks")
        names = {v.get("name") for v in tasks.values()}
        assert names & {"phoenix.wake", "phoenix.submit"}, names
    events = (tmp_path / "events.log").read_text(errors="replace")
    assert "task succeeded" in events.lower() or "task-succeeded" in events.lower(), events[-2000:]
    assert "flowerpot@" in events


@pytest.mark.slow
def test_without_the_switch_workers_send_no_task_events(env, pools, client, tmp_path):
    pools.start(team="iota", agents=1, name="quietpot")
    with background([*CELERY, "events", "--dump"], env, tmp_path / "events.log"):
        wait_for(lambda: celery(env, "inspect", "ping", "--timeout", "5").returncode == 0, 120, "inspect ping")
        key = client.submit({"title": "quiet", "team": "iota", "category": "noop"})
        wait_for(lambda: complete(client, key), 120, "the task to complete")
    assert "task succeeded" not in (tmp_path / "events.log").read_text(errors="replace").lower()


def test_celery_tools_without_a_broker_say_so(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PHOENIX_REDIS_URL"}
    result = subprocess.run([*CELERY, "inspect", "ping"], env=env, capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode != 0
    assert "PHOENIX_REDIS_URL" in result.stdout + result.stderr
