"""One live process per agent, with real worker processes (issue 11.3): two pools of one team on
one host without --name take distinct agents and keep their own specializations; a second "host"
with the same hostname and the same --name is refused in one line; a pool restarted after a
SIGKILL re-attaches to its own agents at once. Counted from the database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for

HOST = socket.gethostname()


class Pool:
    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "workers", *args], env=env,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def started(env, tmp_path):
    made: list[Pool] = []

    def start(*args: str, data: str = "data", name: str = "pool") -> Pool:
        pool = Pool({**env, "PHOENIX_DATA_DIR": str(tmp_path / data)}, tmp_path / f"{name}-{len(made)}.log", *args)
        made.append(pool)
        return pool

    try:
        yield start
    finally:
        for pool in made:
            pool.stop()


def live(sql, pattern: str) -> list[dict]:
    return sql.execute("SELECT id, codename, specialization FROM phoenix.agents WHERE codename LIKE %s "
                       "AND last_heartbeat > now() - interval '30 seconds' ORDER BY codename", (pattern,)).fetchall()


@pytest.mark.slow
def test_two_unnamed_pools_of_a_team_on_one_host_take_distinct_agents(started, sql, client):
    first = started("--team", "iota", "--agents", "2", "--specialization", "development")
    wait_for(lambda: len(live(sql, f"iota.{HOST}-%")) == 2, what="the first pool's agents")
    second = started("--team", "iota", "--agents", "2", "--specialization", "data_mining")
    wait_for(lambda: len(live(sql, f"iota.{HOST}.2-%")) == 2, what="the second pool's agents")
    assert "this pool's agents are" in second.text()
    rows = live(sql, f"iota.{HOST}%")
    assert len({r["id"] for r in rows}) == 4
    specs = {r["codename"]: r["specialization"] for r in rows}
    assert specs == {f"iota.{HOST}-0": ["development"], f"iota.{HOST}-1": ["development"],
                     f"iota.{HOST}.2-0": ["data_mining"], f"iota.{HOST}.2-1": ["data_mining"]}
    # both pools work the team's queue without failing each other's claims
    keys = client.submit_many([{"title": f"t{i}", "team": "iota", "category": "noop"} for i in range(40)])
    assert len(keys) == 40
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'").fetchone()["n"] == 40,
             timeout=120, what="40 completions")
    fails = sql.execute("SELECT count(*) AS n FROM phoenix.task_events WHERE kind IN ('failed', 'lease_expired', 'released')").fetchone()["n"]
    assert fails == 0
    assert first.proc.poll() is None and second.proc.poll() is None


@pytest.mark.slow
def test_a_second_host_with_the_same_name_is_refused_in_one_line(started, sql, tmp_path):
    started("--team", "iota", "--agents", "2", "--name", "same", data="host-a")
    wait_for(lambda: len(live(sql, "same-%")) == 2, what="host a's agents")
    before = sql.execute("SELECT id, holder, specialization FROM phoenix.agents WHERE codename LIKE 'same-%' "
                         "ORDER BY codename").fetchall()
    other = started("--team", "iota", "--agents", "2", "--name", "same", "--specialization", "docs", data="host-b")
    assert other.proc.wait(timeout=120) == 1
    errors = [line for line in other.text().splitlines() if line.startswith("error:")]
    assert errors == [errors[0]] and "same-0 is held by another live process" in errors[0]
    assert "Traceback" not in other.text()
    after = sql.execute("SELECT id, holder, specialization FROM phoenix.agents WHERE codename LIKE 'same-%' "
                        "ORDER BY codename").fetchall()
    assert after == before


@pytest.mark.slow
def test_a_pool_restarted_after_a_sigkill_re_attaches_to_its_own_agents_at_once(started, sql):
    pool = started("--team", "iota", "--agents", "2", "--name", "phoenix-restart")
    first = wait_for(lambda: len(rows := live(sql, "phoenix-restart-%")) == 2 and rows, what="the agents")
    pool.kill()
    again = started("--team", "iota", "--agents", "2", "--name", "phoenix-restart")
    wait_for(lambda: "re-attached on team iota" in again.text() and again.text().count("re-attached") >= 2,
             what="both agents re-attached")
    assert "held by another" not in again.text()
    assert [r["id"] for r in live(sql, "phoenix-restart-%")] == [r["id"] for r in first]
    assert sql.execute("SELECT count(*) AS n FROM phoenix.agents WHERE codename LIKE 'phoenix-restart%'").fetchone()["n"] == 2


def test_a_pool_whose_agent_was_decommissioned_is_refused_in_one_line(started, sql, db):
    from phoenix_board.board import agents

    retired, _ = agents.register(db, {"codename": "retired-1", "team": "iota"})
    agents.decommission(db, retired.id)
    pool = started("--team", "iota", "--agents", "2", "--name", "retired")
    assert pool.proc.wait(timeout=120) == 1
    errors = [line for line in pool.text().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "retired-1 is decommissioned" in errors[0]
    assert sql.execute("SELECT decommissioned_at IS NOT NULL AS gone FROM phoenix.agents WHERE codename = 'retired-1'"
                       ).fetchone()["gone"]
    assert sql.execute("SELECT count(*) AS n FROM phoenix.agents WHERE codename LIKE 'retired-%'").fetchone()["n"] == 1
