"""Schedules fired by real `phoenix-board beat` processes: two beats at once fire each slot once,
and a beat killed in the middle of firing a slot neither fires it twice nor skips it once a beat
runs again. Counted from the database: one run and one task per slot, no slot missing between the
first and the last."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import schedules
from tests.conftest import wait_for, waiting_on_lock

TASK = {"title": "tick", "team": "iota", "category": "noop"}


def start_beat(env: dict[str, str], tmp_path, name: str) -> subprocess.Popen:
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", "beat"],
                            env={**env, "PHOENIX_DATA_DIR": str(tmp_path / name)}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(procs: list[subprocess.Popen], sig: int = signal.SIGTERM) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
    for p in procs:
        p.wait(timeout=30)


def fired(sql) -> list[dict]:
    return sql.execute("SELECT r.slot, r.task_id, r.error FROM phoenix.schedule_runs r WHERE r.kind = 'cron' "
                       "ORDER BY r.slot").fetchall()


def assert_each_slot_once_without_gaps(sql, at_least: int) -> None:
    runs = fired(sql)
    assert len(runs) >= at_least
    assert all(r["task_id"] is not None and r["error"] is None for r in runs)
    first, last = runs[0]["slot"], runs[-1]["slot"]
    assert [r["slot"] for r in runs] == [first + timedelta(seconds=i) for i in range(int((last - first).total_seconds()) + 1)]
    tasks = sql.execute("SELECT count(*) AS n, count(DISTINCT idempotency_key) AS k FROM phoenix.tasks "
                        "WHERE idempotency_key LIKE 'schedule:%%:cron:%%'").fetchone()
    assert tasks == {"n": len(runs), "k": len(runs)}


@pytest.fixture
def beat_env(url, valkey):
    return {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": valkey.url,
            "PHOENIX_QUEUE_PREFIX": "schedbeat", "PHOENIX_BEAT_SCHEDULES_SECONDS": "0.5"}


@pytest.mark.slow
def test_two_beats_fire_each_slot_once(beat_env, tmp_path, db, sql):
    # every second, from 20 s ago: the beats start with 20 slots due, and the seconds keep coming
    schedules.add(db, "every-second", "* * * * * *", TASK, catch_up="all",
                  now=datetime.now(UTC) - timedelta(seconds=20))
    procs = [start_beat(beat_env, tmp_path, f"beat{i}") for i in range(2)]
    try:
        wait_for(lambda: len(fired(sql)) >= 40, timeout=120, what="40 slots fired")
    finally:
        stop(procs)
    assert_each_slot_once_without_gaps(sql, 40)
    logs = [(tmp_path / f"beat{i}.log").read_text(errors="replace") for i in range(2)]
    assert all("beat job schedules" in log for log in logs), "both beats ran the job"


@pytest.mark.slow
def test_a_beat_killed_while_firing_a_slot_neither_repeats_nor_skips_it(beat_env, tmp_path, db, sql, url):
    schedules.add(db, "every-second", "* * * * * *", TASK, catch_up="all")
    first = start_beat(beat_env, tmp_path, "first")
    try:
        wait_for(lambda: len(fired(sql)) >= 3, timeout=120, what="the first beat firing")
        # hold the runs' table: the beat's next fire stops inside its transaction, after it locked
        # its schedule and before its slot's key is in
        with psycopg.connect(url, row_factory=dict_row) as blocker:
            blocker.execute("LOCK TABLE phoenix.schedule_runs IN EXCLUSIVE MODE")
            wait_for(lambda: waiting_on_lock(sql, "%schedule_fire%") >= 1, timeout=60, what="a fire waiting")
            before = fired(sql)
            stop([first], signal.SIGKILL)  # mid-slot: the transaction is open, its COMMIT never comes
            blocker.rollback()  # the orphaned session goes on, finds its client gone and rolls back
        wait_for(lambda: sql.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%%schedule_fire%%' "
            "AND pid <> pg_backend_pid()").fetchone()["n"] == 0, timeout=60, what="the killed beat's session gone")
        assert fired(sql) == before  # the killed fire left nothing
        second = start_beat(beat_env, tmp_path, "second")
        try:
            wait_for(lambda: len(fired(sql)) >= len(before) + 10, timeout=120, what="the second beat firing")
        finally:
            stop([second])
    finally:
        stop([first], signal.SIGKILL)
    # the slot the killed beat was firing, and those while no beat ran, each fired once
    assert_each_slot_once_without_gaps(sql, len(before) + 10)
