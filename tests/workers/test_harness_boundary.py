"""An agent loads no part of the test harness: started as `phoenix-board workers` does, its pool
process has imported no `phoenix_board.harness` module, and the fault rig's `probe` handler is
not among its categories (it is no entry point: the rig names it in its own pools' environment).
The report comes from a handler module named in PHOENIX_HANDLER_MODULES, the way the rig adds
the probe, so this also shows that mechanism at work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)

ROOT = Path(__file__).resolve().parents[2]


def test_an_agent_loads_no_harness_module(pools, client, sql, env):
    pools.start("iota", agents=1, name="clean", PHOENIX_HANDLER_MODULES="tests.workers.modules_handler",
                PYTHONPATH=str(ROOT))
    key = client.submit({"title": "what is loaded", "team": "iota", "category": "loaded_modules"})

    def done():
        row = sql.execute("SELECT status, output FROM phoenix.tasks WHERE idempotency_key = %s", (key,)).fetchone()
        return row if row and row["status"] in ("complete", "failed") else None

    row = wait_for(done, timeout=90, what="the report")
    output = row["output"] if isinstance(row["output"], dict) else json.loads(row["output"])
    assert row["status"] == "complete", output
    assert output["harness"] == []
    assert "loaded_modules" in output["categories"] and "probe" not in output["categories"]
