"""`phoenix-board beat` as real processes: two beats at once fill the timeline once per tick."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import wait_for


@pytest.mark.slow
def test_two_beats_fill_the_timeline_once_per_tick(url, valkey, tmp_path, sql):
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": valkey.url,
           "PHOENIX_QUEUE_PREFIX": "beattest", "PHOENIX_DATA_DIR": str(tmp_path / "d"),
           "PHOENIX_BEAT_SNAPSHOT_SECONDS": "1", "PHOENIX_BEAT_DASHBOARD_SECONDS": "1",
           "PHOENIX_BEAT_LEASE_SWEEP_SECONDS": "1"}
    procs = []
    for i in range(2):
        env_i = {**env, "PHOENIX_DATA_DIR": str(tmp_path / f"d{i}")}
        log = open(tmp_path / f"beat{i}.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "beat"], env=env_i, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
    try:
        wait_for(lambda: sql.execute("SELECT count(DISTINCT time) AS n FROM phoenix.consciousness_timeline").fetchone()["n"] >= 4,
                 timeout=90, what="four snapshot ticks")
        wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.federation_dashboard").fetchone()["n"] == 4,
                 timeout=60, what="the dashboard")
        per_tick = sql.execute("SELECT time, count(*) AS n FROM phoenix.consciousness_timeline GROUP BY time").fetchall()
        assert all(r["n"] == 4 for r in per_tick)  # three teams and global, never twice
        runs = {r["job"]: r for r in sql.execute("SELECT * FROM phoenix.beat_runs").fetchall()}
        assert {"snapshot", "dashboard_refresh", "lease_sweep"} <= set(runs)
        assert all(r["last_error"] is None for r in runs.values())
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)


def test_an_operator_cascade_sent_through_the_queue_runs_once_on_the_beats_worker(url, valkey, tmp_path, sql, db):
    """Client.cascade sends to the beat's queue; the beat's worker (the owner) spreads it, and the
    same id sent again changes nothing."""
    from phoenix_board.board import federation
    from phoenix_board.board.settings import Settings
    from phoenix_board.workers.client import Client
    from tests.conftest import make_agent

    a, b, c = (make_agent(db, team="iota") for _ in range(3))
    federation.pair(db, a.id, b.id)
    federation.supervise(db, a.id, c.id)
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": valkey.url,
           "PHOENIX_QUEUE_PREFIX": "cascadetest", "PHOENIX_DATA_DIR": str(tmp_path / "d")}
    log = open(tmp_path / "beat.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "beat"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        settings = Settings(database_url=url, redis_url=valkey.url, queue_prefix="cascadetest", data_dir=tmp_path / "d")
        with Client(settings) as client:
            first = client.cascade("cortisol", 1.0, agent=a.codename)
            client.cascade("cortisol", 1.0, agent=a.codename, cascade_id=first)  # a re-delivery
            # the beat's worker runs one message at a time, in order: once this one has run, so has the re-delivery
            client.cascade("dopamine", 0.5, agent=b.codename)
        wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.hormone_cascades").fetchone()["n"] == 2,
                 timeout=90, what="both cascades recorded")
        rows = sql.execute("SELECT agent_to FROM phoenix.agent_interactions WHERE interaction_type = 'sync' "
                           "AND hormone_exchange ->> 'cascade_id' = %s", (first,)).fetchall()
        reached = {r["agent_to"] for r in rows}
        assert {b.id, c.id} <= reached  # the partner and the subordinate
        assert len(rows) == len(reached)  # each agent at most once, and the re-delivery added nothing
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
