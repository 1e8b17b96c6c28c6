"""PostgreSQL stops and starts while agents work. A private embedded server, never the shared one."""

from __future__ import annotations

import pytest

from phoenix_board.harness.faults import scenarios as faults
from phoenix_board.harness.faults.rig import open_rig, probe_task, wait_until
from tests.harness.faults.conftest import LEASE, assert_clean

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def test_database_restarts_lose_nothing(private_postgres, tmp_path, sizes, quiet):
    server, url = private_postgres
    with open_rig(url, tmp_path / "rig", LEASE) as rig:
        figures = faults.postgres_scenario(rig, server, int(sizes["restarts"]), int(sizes["tasks"]),
                                           int(sizes["agents"]), quiet)
    assert_clean(figures)
    assert figures["completed"] == sizes["tasks"]


def test_a_result_that_meets_a_restarted_database_gets_through(private_postgres, tmp_path):
    server, url = private_postgres
    # a long lease and a rare heartbeat: nothing else touches the agent's pooled connections, so
    # after the restart its result call is the first to meet one that the restart broke
    with open_rig(url, tmp_path / "rig", 30.0) as rig:
        rig.env["PHOENIX_HEARTBEAT_SECONDS"] = "60"
        rig.start_pool(1)
        [key] = rig.submit([probe_task("through a restart", 0.0, 3.0)])
        wait_until(lambda: rig.ledger.steps("effect"), 60, "the handler's side effect")
        server.stop()
        server.start()  # back before the handler ends
        task = wait_until(lambda: (t := rig.client.status(key)) is not None and t.status == "complete" and t,
                          120, "the completion")
    # the same attempt completed: the agent retried its result on a fresh connection, instead of
    # giving up, leaving its claim to lapse and running the work a second time
    assert task.attempt == 1
    assert [e["attempt"] for e in rig.ledger.steps("effect")] == [1]
