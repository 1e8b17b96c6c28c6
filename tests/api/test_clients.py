"""The curl + jq clients in examples/ against a real server: an agent with its own token claims,
renews and completes; a program submits a task and waits for its answer (docs/api.md)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Api
from tests.api.streams import relay_process
from tests.conftest import make_agent, make_task

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _env(api: Api, token: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "PHOENIX_API": api.base, "PHOENIX_TOKEN": token}


def _tasks(api: Api, team: str) -> list[dict]:
    return api.db.fetch_sql("SELECT id, title, status::text AS status, output, assigned_to, attempt "
                            "FROM phoenix.tasks WHERE team = %(team)s ORDER BY created_at", {"team": team})



@pytest.fixture(scope="module", autouse=True)
def relay(api: Api) -> Iterator[None]:
    """The relay feeds createTask's wait, as `up` runs one beside the server."""
    with relay_process(api.env, api.log.with_name("relay.log")):
        yield


def test_the_shell_agent_claims_renews_and_completes_with_its_own_token(api: Api):
    team = api.team()
    agent = make_agent(api.db, team=team)
    for title in ("first", "second"):
        make_task(api.db, team=team, title=title)
    ran = subprocess.run(["sh", str(EXAMPLES / "agent.sh")], env=_env(api, api.token("agent", agent.codename)),
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "nothing left to claim; completed 2" in ran.stdout
    done = _tasks(api, team)
    assert [(t["status"], t["output"]) for t in done] == [
        ("complete", {"answer": "FIRST", "by": "agent.sh"}), ("complete", {"answer": "SECOND", "by": "agent.sh"})]
    events = api.db.fetch_sql("SELECT kind, agent_id FROM phoenix.task_events WHERE task_id = %(id)s ORDER BY id",
                              {"id": done[0]["id"]})
    assert [e["kind"] for e in events][:2] == ["submitted", "claimed"] and events[1]["agent_id"] == agent.id


def test_the_shell_agent_stops_on_an_error_code(api: Api):
    ran = subprocess.run(["sh", str(EXAMPLES / "agent.sh")], env=_env(api, "pbt_" + "x" * 43),
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and "UNAUTHENTICATED" in ran.stderr


def test_a_program_submits_and_waits_for_the_answer(api: Api):
    team = api.team()
    agent = make_agent(api.db, team=team)
    operator = api.token("operator")
    waiting = subprocess.Popen(["sh", str(EXAMPLES / "submit_and_wait.sh"), "Summarise the logs", team, "120"],
                               env=_env(api, operator), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while not _tasks(api, team):  # submitted: now an agent can take it
            assert waiting.poll() is None, waiting.stderr.read()
            assert time.monotonic() < end, "the task never reached the board"
            time.sleep(0.1)
        ran = subprocess.run(["sh", str(EXAMPLES / "agent.sh")], env=_env(api, api.token("agent", agent.codename)),
                             capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        out, err = waiting.communicate(timeout=120)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err
    assert json.loads(out) == {"answer": "SUMMARISE THE LOGS", "by": "agent.sh"}


def test_a_wait_that_runs_out_says_so(api: Api):
    team = api.team()
    ran = subprocess.run(["sh", str(EXAMPLES / "submit_and_wait.sh"), "Nobody takes this", team, "0.5"],
                         env=_env(api, api.token("operator")), capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1 and "still OPEN after the wait" in ran.stderr
    assert [t["status"] for t in _tasks(api, team)] == ["open"]
