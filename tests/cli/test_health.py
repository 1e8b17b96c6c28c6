"""Dead agents and stale beat jobs are named as such wherever they are shown (issue 13, point 9):
`doctor` with the beat stopped reports its jobs stale, not "ok"; an agent without a heartbeat is
"dead" in `doctor` and `agents list`, not only "2m ago"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from phoenix_board.board import agents


def test_doctor_and_agents_list_name_the_dead_and_the_stale(run, db, sql):
    alive, _ = agents.register(db, {"codename": "alive-1", "team": "iota"})
    gone, _ = agents.register(db, {"codename": "gone-1", "team": "iota"})
    now = datetime.now(UTC)
    sql.execute("UPDATE phoenix.agents SET last_heartbeat = %s WHERE id = %s", (now - timedelta(minutes=2), gone.id))
    # the beat ran its jobs a while ago and then stopped: the lease sweep (every 5 s) is long
    # overdue; the retention job (hourly) is not yet
    for job, ago in (("lease_sweep", timedelta(minutes=5)), ("retention", timedelta(minutes=5))):
        sql.execute("INSERT INTO phoenix.beat_runs (job, runs, last_started_at, last_success_at, last_duration_ms) "
                    "VALUES (%s, 1, %s, %s, 1.0)", (job, now - ago, now - ago))
    report = run("doctor", ok=False)
    assert report.returncode == 1
    lines = {line.split("│")[1].strip(): line for line in report.stdout.splitlines() if line.count("│") >= 3}
    assert "stale" in lines["beat lease_sweep"] and "is the beat running?" in lines["beat lease_sweep"]
    assert " ok " in lines["beat retention"]
    assert "dead" in lines["agent gone-1"] and "agent alive-1" not in lines
    listing = {line.split()[0]: line for line in run("agents", "list").stdout.splitlines() if line.strip()}
    assert "dead" in listing["gone-1"] and "dead" not in listing["alive-1"]
