"""SIGKILL of pool processes at chosen points of the lifecycle."""

from __future__ import annotations

import pytest

from phoenix_board.harness.faults import scenarios as faults
from tests.harness.faults.conftest import assert_clean

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def test_killed_processes_lose_and_duplicate_nothing(rig, sizes, quiet):
    figures = faults.kill_scenario(rig, int(sizes["kills"]), 3, quiet)
    assert_clean(figures)
    assert figures["kills"] == sizes["kills"] and figures["missed_points"] == []
    assert set(figures["kills_by_point"]) == set(faults.POINTS)
    # a kill after the claim and one in the middle of the handler each leave a claim behind...
    assert figures["kills_holding_a_claim"] >= 2
    # ...and every such claim was returned to the board and claimed again by another attempt
    assert figures["never_reclaimed"] == 0
    assert sum(figures["claims_returned_by"].values()) >= figures["kills_holding_a_claim"]
    # the kill in the middle of the handler came after its side effect: the work ran again, in a
    # new attempt (at least once), and the task still completed once
    assert figures["handler_reruns"] >= 1
