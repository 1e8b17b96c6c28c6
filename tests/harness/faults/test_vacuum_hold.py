"""Agents churn while a REPEATABLE READ reader holds back vacuum, then the reader ends."""

from __future__ import annotations

import pytest

from phoenix_board.harness.faults import scenarios as faults
from tests.harness.faults.conftest import assert_clean

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def test_held_snapshot_keeps_dead_tuples_until_it_ends(rig, sizes, quiet):
    figures = faults.vacuum_scenario(rig, sizes["hold"], 15, int(sizes["agents"]), quiet)
    assert_clean(figures)
    dead = figures["dead_tuples"]
    assert dead["while_held_after_vacuum"] > dead["before"]  # VACUUM could not remove them
    assert figures["recovered"], dead
    assert figures["xmin_age_while_held"] > 0
