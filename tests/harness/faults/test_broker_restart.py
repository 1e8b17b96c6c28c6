"""The broker (an embedded Valkey with its append-only file) stops and starts while agents work."""

from __future__ import annotations

import pytest

from phoenix_board.harness.faults import scenarios as faults
from tests.harness.faults.conftest import assert_clean

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def test_broker_restarts_lose_nothing(rig, sizes, quiet):
    figures = faults.redis_scenario(rig, int(sizes["restarts"]), int(sizes["tasks"]), int(sizes["agents"]), quiet)
    assert_clean(figures)
    assert figures["submitted"] == sizes["tasks"] and figures["completed"] == sizes["tasks"]
