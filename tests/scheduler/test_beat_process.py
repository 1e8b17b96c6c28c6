"""`phoenix-board beat` as real processes: two beats at once fill the timeline once per tick."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.workers.conftest import wait_for


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
