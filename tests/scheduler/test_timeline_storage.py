"""The timeline's storage on whatever server the suite runs against
(docs/concepts/beat.md#timeline-timescaledb-or-not): plain PostgreSQL, TimescaleDB, or TimescaleDB
under its Apache licence. The hourly rollup has the same content on every path, the current hour
included; retention happens where the server allows it; TimescaleDB's background jobs succeed and
are watched by /metrics and `doctor`.

Run against TimescaleDB with PHOENIX_TEST_DATABASE_URL (docs/quickstart.md); the tests that need a
TimescaleDB feature say so when skipped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import consciousness
from phoenix_board.scheduler import jobs

ROW = ("INSERT INTO phoenix.consciousness_timeline (time, team, global_consciousness, global_trust,"
       " team_consciousness, active_agents, tasks_per_hour, decisions_per_second, avg_dopamine)"
       " VALUES (%s, %s, 104, 0.5, %s, 3, %s, 0.1, 1.0)")


def _now(sql) -> datetime:
    return sql.execute("SELECT now() AS now").fetchone()["now"]


def _jobs(db) -> dict[str, dict]:
    return {job["policy"]: job for job in consciousness.timescale_jobs(db)}


def _community(db) -> None:
    m = consciousness.mode(db)
    if m["mode"] != "timescaledb" or m["timescaledb_license"] != "timescale":
        pytest.skip("needs TimescaleDB with its community licence: set PHOENIX_TEST_DATABASE_URL to such a server")


def test_the_hourly_rollup_holds_the_current_hour_on_every_path(db, sql):
    now = _now(sql)
    hour = now.replace(minute=0, second=0, microsecond=0)
    rows = [(hour - timedelta(minutes=50), "iota", 101.0, 4), (hour - timedelta(minutes=20), "iota", 103.0, 6),
            (hour + timedelta(seconds=1), "iota", 105.0, 7), (now, "iota", 102.0, 2),
            (now, "alpha_delta", 104.5, 1)]
    for at, team, value, done in rows:
        sql.execute(ROW, (at, team, value, done))
    jobs.dashboard_refresh(db)  # the beat's refresh (plain materialized view); TimescaleDB needs none
    got = sql.execute("SELECT bucket, team, avg_consciousness, peak_consciousness, total_tasks"
                      " FROM phoenix.consciousness_hourly ORDER BY bucket, team").fetchall()
    expected = [
        {"bucket": hour - timedelta(hours=1), "team": "iota", "avg_consciousness": 102.0, "peak_consciousness": 103.0,
         "total_tasks": 6},
        {"bucket": hour, "team": "alpha_delta", "avg_consciousness": 104.5, "peak_consciousness": 104.5,
         "total_tasks": 1},
        {"bucket": hour, "team": "iota", "avg_consciousness": 103.5, "peak_consciousness": 105.0, "total_tasks": 7},
    ]
    assert [{**r, "bucket": r["bucket"].astimezone(UTC)} for r in got] == \
        [{**r, "bucket": r["bucket"].astimezone(UTC)} for r in expected]


def test_retention_removes_old_rows_where_the_server_allows(db, sql):
    now = _now(sql)
    sql.execute(ROW, (now - timedelta(days=40), "iota", 101.0, 1))
    sql.execute(ROW, (now - timedelta(days=1), "iota", 102.0, 1))
    policy = _jobs(db).get("retention")
    if policy is None:  # plain PostgreSQL, or a hypertable without the policy (Apache licence)
        assert jobs.retention(db, now) == 1
    else:  # TimescaleDB's policy, run now in this session (the background run is tested below)
        assert jobs.retention(db, now) == 0
        sql.execute(f"CALL run_job({int(policy['job_id'])})")
    kept = sql.execute("SELECT time FROM phoenix.consciousness_timeline ORDER BY time").fetchall()
    assert [r["time"] for r in kept] == [now - timedelta(days=1)]
    if consciousness.mode(db)["mode"] == "timescaledb":  # whole chunks went, not just rows
        chunks = sql.execute("SELECT count(*) AS n FROM timescaledb_information.chunks"
                             " WHERE hypertable_schema = 'phoenix' AND hypertable_name = 'consciousness_timeline'"
                             " AND range_end <= %s", (now - timedelta(days=30),)).fetchone()["n"]
        assert chunks == 0


def _run_in_background(sql, job_id: int) -> dict:
    """Has TimescaleDB's scheduler start the job now; waits for that run to end; the job's stats."""
    finished = ("SELECT coalesce(total_successes, 0) + coalesce(total_failures, 0) AS n, last_run_status"
                " FROM timescaledb_information.job_stats WHERE job_id = %s")
    before = sql.execute(finished, (job_id,)).fetchone()["n"]
    sql.execute("SELECT alter_job(%s, next_start => now())", (job_id,))
    deadline = time.monotonic() + 120
    while (stats := sql.execute(finished, (job_id,)).fetchone())["n"] <= before:
        assert time.monotonic() < deadline, f"TimescaleDB's scheduler did not run job {job_id} within 2 minutes"
        time.sleep(0.2)
    return stats


@pytest.fixture
def cli(url, tmp_path):
    env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    env.pop("PHOENIX_DATABASE_READ_URL", None)
    return lambda *args: subprocess.run([sys.executable, "-m", "phoenix_board.cli", *args], capture_output=True,
                                        text=True, env=env, cwd=tmp_path, timeout=120)


def test_timescale_jobs_succeed_in_the_background_and_a_failing_one_is_reported(db, sql, cli):
    _community(db)
    found = _jobs(db)
    assert set(found) == {"retention", "refresh"}
    for job in found.values():  # a job runs as its relation's owner, who must log in
        assert sql.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (job["owner"],)).fetchone()["rolcanlogin"]
    now = _now(sql)
    sql.execute(ROW, (now - timedelta(days=40), "iota", 101.0, 1))
    sql.execute(ROW, (now - timedelta(hours=2), "iota", 102.0, 1))
    for policy in ("retention", "refresh"):
        assert _run_in_background(sql, found[policy]["job_id"])["last_run_status"] == "Success", policy
    kept = sql.execute("SELECT time FROM phoenix.consciousness_timeline").fetchall()
    assert [r["time"] for r in kept] == [now - timedelta(hours=2)]
    materialized = sql.execute("SELECT count(*) AS n FROM phoenix.consciousness_hourly").fetchone()["n"]
    assert materialized == 1
    doctor = cli("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert re.search(r"timescaledb retention\W+ok\W+job \d+ as \w+: last run Success", doctor.stdout), doctor.stdout
    assert re.search(r"timescaledb refresh\W+ok", doctor.stdout), doctor.stdout

    # the defect this guards against: the timeline (and its job) handed to the owner role, which
    # cannot log in
    sql.execute("ALTER TABLE phoenix.consciousness_timeline OWNER TO phoenix_owner")
    assert _run_in_background(sql, found["retention"]["job_id"])["last_run_status"] == "Failed"
    doctor = cli("doctor")
    assert doctor.returncode == 1
    assert re.search(r"timescaledb retention\W+failing\W+job \d+ as phoenix_owner: last run Failed", doctor.stdout), \
        doctor.stdout


def test_metrics_serve_the_timescale_jobs(db, sql):
    from tests.conftest import free_port, samples
    import urllib.request

    from phoenix_board.board.settings import Settings
    from phoenix_board.metrics import exporter

    port = free_port()
    server, _ = exporter.serve(db, Settings(redis_url=None), port, "127.0.0.1")
    try:
        scrape = lambda: samples(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode())  # noqa: E731
        found = _jobs(db)
        figures = scrape()
        served = {dict(labels)["policy"] for name, labels in figures if name == "phoenix_timescaledb_job_ok"}
        assert served == set(found)  # none on plain PostgreSQL or under the Apache licence
        if not found:
            return
        sql.execute("ALTER TABLE phoenix.consciousness_timeline OWNER TO phoenix_owner")
        _run_in_background(sql, found["retention"]["job_id"])
        figures = scrape()
        assert figures[("phoenix_timescaledb_job_ok", (("policy", "retention"),))] == 0
        assert figures[("phoenix_timescaledb_job_failures_total", (("policy", "retention"),))] >= 1
    finally:
        server.shutdown()
