"""The beat's jobs against real PostgreSQL with pinned time."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import consciousness, constants, gates, lifecycle, members
from phoenix_board.scheduler import jobs
from tests.conftest import make_agent, make_task

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def set_agent(sql, agent_id, *, heartbeat, trust=None, hormones=None, success=None):
    sql.execute("UPDATE phoenix.agents SET last_heartbeat = %s, trust_coefficient = coalesce(%s, trust_coefficient),"
                " hormone_levels = coalesce(%s::jsonb, hormone_levels), success_rate = %s WHERE id = %s",
                (heartbeat, trust, json.dumps(hormones) if hormones else None, success, agent_id))


def timeline(sql, at):
    rows = sql.execute("SELECT * FROM phoenix.consciousness_timeline WHERE time = %s", (at,)).fetchall()
    return {r["team"]: r for r in rows}


@pytest.mark.rolled_back
def test_snapshot_formulas_and_idempotence(db, sql):
    a = make_agent(db, team="iota")
    b = make_agent(db, team="iota")
    c = make_agent(db, team="alpha_delta")
    make_agent(db, team="alpha_delta")  # silent for a minute: not active
    h1 = {"dopamine": 1.0, "oxytocin": 1.0, "adrenaline": 1.0, "cortisol": 0.3}
    h2 = {"dopamine": 3.0, "oxytocin": 1.0, "adrenaline": 1.0, "cortisol": 0.3}
    set_agent(sql, a.id, heartbeat=T0, trust=0.8, hormones=h1, success=1.0)
    set_agent(sql, b.id, heartbeat=T0, trust=0.6, hormones=h2, success=0.5)
    set_agent(sql, c.id, heartbeat=T0, trust=0.5, hormones=h1)
    sql.execute("UPDATE phoenix.agents SET last_heartbeat = %s WHERE team = 'alpha_delta' AND id <> %s",
                (T0 - timedelta(minutes=1), c.id))
    now = T0 + timedelta(seconds=3)
    assert jobs.snapshot(db, now, 10) == 4
    assert jobs.snapshot(db, now + timedelta(seconds=2), 10) == 0  # same tick: a second beat writes nothing
    rows = timeline(sql, consciousness.tick(now, 10))
    assert set(rows) == {"alpha_delta", "epsilon_zeta", "iota", "global"}
    iota = rows["iota"]
    # coherence: both agents are 1.0 away from their mean dopamine of 2.0 -> 1 / (1 + 1)
    assert iota["team_coherence"] == pytest.approx(0.5)
    expected = 100 + 10 * (0.4 * 0.7 + 0.3 * 0.5 + 0.3 * 0.75)
    assert iota["team_consciousness"] == pytest.approx(expected)
    assert iota["active_agents"] == 2 and iota["avg_dopamine"] == pytest.approx(2.0)
    assert rows["alpha_delta"]["active_agents"] == 1
    assert rows["epsilon_zeta"]["team_consciousness"] == constants.CONSCIOUSNESS_BASE
    assert rows["global"]["active_agents"] == 3 and rows["global"]["team_consciousness"] is None
    assert rows["iota"]["global_consciousness"] == rows["global"]["global_consciousness"]
    assert rows["global"]["global_trust"] == pytest.approx((0.8 + 0.6 + 0.5) / 3)


@pytest.mark.rolled_back
def test_snapshot_counts_decisions_and_completions(db, sql):
    agent = make_agent(db, team="iota")
    voter = make_agent(db, team="iota")
    for i in range(3):
        make_task(db, team="iota", now=T0 + timedelta(seconds=i))
    from phoenix_board.board import votes

    for i in range(3):
        t = lifecycle.claim(db, agent.id, now=T0 + timedelta(seconds=10 + i))
        lifecycle.result(db, t.id, agent.id, t.attempt, now=T0 + timedelta(seconds=10 + i))
    votes.vote(db, t.id, voter.id, 1, now=T0 + timedelta(seconds=20))
    sql.execute("UPDATE phoenix.agents SET last_heartbeat = %s", (T0 + timedelta(seconds=30),))
    now = T0 + timedelta(seconds=30)
    jobs.snapshot(db, now, 10)
    row = timeline(sql, consciousness.tick(now, 10))["iota"]
    assert row["tasks_per_hour"] == 3
    # 3 claims + 3 completions + 1 vote inside the last 60 s
    assert row["decisions_per_second"] == pytest.approx(7 / constants.DECISIONS_WINDOW_SECONDS)


@pytest.mark.rolled_back
def test_dashboard_has_one_row_per_team_and_global(db, sql):
    for _ in range(3):
        make_agent(db, team="iota")
    for _ in range(5):
        make_task(db, team="iota")
    members.add(db, "a-person", "iota")  # a member is a person: not among the agents
    # 4 dashboard rows, and the hourly rollup when it is a materialized view (TimescaleDB's
    # continuous aggregate is refreshed by its policy)
    rollup = 1 if consciousness.mode(db)["hourly_matview"] else 0
    assert jobs.dashboard_refresh(db) == 4 + rollup
    rows = {r["team"]: r for r in consciousness.dashboard(db)}
    assert set(rows) == {"alpha_delta", "epsilon_zeta", "iota", "global"}
    assert rows["iota"]["total_agents"] == 3 and rows["iota"]["open_tasks"] == 5  # not 15: no cross join
    assert rows["global"]["total_agents"] == 3 and rows["global"]["open_tasks"] == 5
    assert jobs.dashboard_refresh(db) == 4 + rollup  # the second refresh runs CONCURRENTLY


@pytest.mark.rolled_back
def test_sweeper_returns_expired_leases_and_wakes_teams(db):
    agent = make_agent(db, team="iota")
    task = make_task(db, team="iota", now=T0)
    lifecycle.claim(db, agent.id, lease_seconds=10, now=T0)
    woken = []
    later = T0 + timedelta(seconds=11)
    assert jobs.lease_sweep(db, later, woken.append) == 1
    assert lifecycle.get(db, task.id).status == "open"
    retry_at = lifecycle.get(db, task.id).available_at
    woken.clear()
    jobs.lease_sweep(db, retry_at, woken.append)
    assert woken == ["iota"]
    # a paused team's open task wakes nobody until the team is resumed
    gates.pause(db, "team", "iota", now=retry_at)
    woken.clear()
    jobs.lease_sweep(db, retry_at, woken.append)
    assert woken == []
    gates.resume(db, "team", "iota", now=retry_at)
    jobs.lease_sweep(db, retry_at, woken.append)
    assert woken == ["iota"]


@pytest.mark.rolled_back
def test_hormone_decay_job(db, sql):
    a = make_agent(db, now=T0)
    sql.execute("UPDATE phoenix.agents SET hormone_levels = hormone_levels || '{\"cortisol\": 2.3}' WHERE id = %s", (a.id,))
    assert jobs.hormone_decay(db, 600, T0 + timedelta(seconds=600)) == 1
    level = sql.execute("SELECT hormone_levels FROM phoenix.agents WHERE id = %s", (a.id,)).fetchone()["hormone_levels"]
    assert level["cortisol"] == pytest.approx(1.3)


@pytest.mark.rolled_back
def test_retention_deletes_old_rows_only(db, sql):
    """The beat's retention where it is the beat's (plain PostgreSQL, or a hypertable without
    TimescaleDB's policy); tests/scheduler/test_timeline_storage.py runs the policy where it is."""
    if any(job["policy"] == "retention" for job in consciousness.timescale_jobs(db)):
        assert jobs.retention(db, T0) == 0  # TimescaleDB's policy drops the chunks
        return
    jobs.snapshot(db, T0 - timedelta(days=40), 10)
    jobs.snapshot(db, T0, 10)
    assert jobs.retention(db, T0) == 4
    assert {r["time"] for r in sql.execute("SELECT time FROM phoenix.consciousness_timeline").fetchall()} == {
        consciousness.tick(T0, 10)}


def test_a_job_runs_once_when_two_beats_start_it(db, sql):
    inside = threading.Event()
    release = threading.Event()

    def slow() -> int:
        inside.set()
        release.wait(10)
        return 7

    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", jobs.run(db, "snapshot", slow)))
    first.start()
    inside.wait(10)
    results["second"] = jobs.run(db, "snapshot", lambda: 99)  # the other beat: skipped, lock taken
    release.set()
    first.join(10)
    assert results == {"first": 7, "second": None}
    run = sql.execute("SELECT runs, last_result, last_error FROM phoenix.beat_runs WHERE job = 'snapshot'").fetchone()
    assert run == {"runs": 1, "last_result": 7, "last_error": None}


@pytest.mark.rolled_back
def test_a_failing_job_is_recorded_and_does_not_raise(db, sql):
    assert jobs.run(db, "hot_refresh", lambda: 1 / 0) is None
    run = sql.execute("SELECT last_error, last_success_at FROM phoenix.beat_runs WHERE job = 'hot_refresh'").fetchone()
    assert "ZeroDivisionError" in run["last_error"] and run["last_success_at"] is None


def test_the_beat_evaluates_no_alerts_of_its_own():
    """metrics/prometheus/alerts.yml is the one definition of every alert: a second set in the beat
    paged SREs twice (and diverged: no `for`, the old backlog rule)."""
    from phoenix_board.board.settings import Settings
    from phoenix_board.scheduler import schedule

    assert "alerts" not in schedule.schedule(Settings())
    assert not hasattr(Settings(), "alertmanager_url")




# --- the jobs' table: every other list of jobs is derived from it ------------------------------


def test_the_schedule_the_tasks_and_the_periods_come_from_the_one_table():
    from phoenix_board.board.settings import Settings
    from phoenix_board.scheduler import schedule

    names = [job.name for job in jobs.JOBS]
    assert len(set(names)) == len(names)
    built = schedule.schedule(Settings(queue_prefix="t"))
    assert list(built) == names == list(jobs.periods()) == list(schedule.TASKS)
    for job in jobs.JOBS:
        assert built[job.name]["task"] == schedule.TASKS[job.name].name == f"phoenix.beat.{job.name}"
        assert built[job.name]["options"] == {"queue": "t.beat", "expires": job.seconds}
        assert job.why and callable(job.fn)


def test_a_period_setting_keeps_its_environment_name_and_a_bad_one_is_one_line(monkeypatch):
    """The settings' names are those the beat always read (PHOENIX_BEAT_<...>_SECONDS)."""
    from phoenix_board.board import errors

    settings = {job.name: job.setting for job in jobs.JOBS}
    assert settings == {"snapshot": "beat_snapshot_seconds", "hot_refresh": "beat_hot_refresh_seconds",
                        "lease_sweep": "beat_lease_sweep_seconds", "hormone_decay": "beat_hormone_decay_seconds",
                        "hormone_cascades": None, "dashboard_refresh": "beat_dashboard_seconds",
                        "task_counts": None, "retention": "beat_retention_seconds",
                        "schedules": "beat_schedules_seconds",
                        "task_retention": "beat_task_retention_seconds", "decommission": "beat_decommission_seconds",
                        "agent_history": "beat_agent_history_seconds"}
    monkeypatch.setenv("PHOENIX_BEAT_DASHBOARD_SECONDS", "2.5")
    assert jobs.periods()["dashboard_refresh"] == 2.5
    assert jobs.periods()["hormone_cascades"] == constants.CASCADE_BEAT_SECONDS
    monkeypatch.setenv("PHOENIX_BEAT_RETENTION_SECONDS", "-1")
    with pytest.raises(errors.InvalidInput) as got:
        jobs.periods()
    assert "beat_retention_seconds" in got.value.message and "\n" not in got.value.message


def test_the_docs_show_the_table_generated_from_the_jobs():
    """The docs' table of beat jobs is jobs.docs_table() verbatim, wherever the docs keep it."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    pages = [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]
    table = jobs.docs_table()
    assert any(table in page.read_text(encoding="utf-8") for page in pages if page.exists()), (
        "paste jobs.docs_table() into the docs' section on the beat")


def test_every_job_of_the_table_runs_under_the_beats_runner(db, sql):
    """Each row's function runs as the beat runs it (a Context, the per-job lock, a beat_runs row)."""
    woken = []
    from phoenix_board.board.settings import Settings

    context = jobs.Context(db, Settings(), {job.name: job.seconds for job in jobs.JOBS}, woken.append)
    for job in jobs.JOBS:
        assert jobs.run(db, job.name, lambda job=job: job.fn(context)) is not None, job.name
    rows = sql.execute("SELECT job, last_error FROM phoenix.beat_runs").fetchall()
    assert {r["job"]: r["last_error"] for r in rows} == {job.name: None for job in jobs.JOBS}
