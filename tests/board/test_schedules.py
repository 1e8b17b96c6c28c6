"""Schedules (board/schedules.py, docs/concepts/schedules.md): each slot fires exactly once, the
catch-up policies after downtime, pause and resume, run-now, and bad input refused with one line
and nothing written. The clock moves through the functions' ``now`` parameters, never by sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import errors, schedules
from phoenix_board.board.db import Database
from tests.conftest import assert_one_line

T0 = datetime(2030, 1, 7, 12, 0, 30, tzinfo=UTC)  # a Monday, 30 s past 12:00
TASK = {"title": "nightly report", "team": "alpha_delta", "category": "noop", "priority": 7}


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def runs(sql, name: str = "every5") -> list[dict]:
    return sql.execute("SELECT r.kind, r.slot, r.task_id, r.error FROM phoenix.schedule_runs r "
                       "JOIN phoenix.schedules s ON s.id = r.schedule_id WHERE s.name = %s ORDER BY r.kind, r.slot",
                       (name,)).fetchall()


def slots(sql, name: str = "every5", kind: str = "cron") -> list[datetime]:
    return [r["slot"] for r in runs(sql, name) if r["kind"] == kind]


def tasks_of(sql, name: str = "every5") -> int:
    return sql.execute("SELECT count(*) AS n FROM phoenix.tasks t JOIN phoenix.schedule_runs r ON r.task_id = t.id "
                       "JOIN phoenix.schedules s ON s.id = r.schedule_id WHERE s.name = %s", (name,)).fetchone()["n"]


def add(db, name: str = "every5", cron: str = "*/5 * * * *", **kw) -> dict:
    return schedules.add(db, name, cron, kw.pop("task", TASK), now=kw.pop("now", T0), **kw)


@pytest.mark.rolled_back
def test_a_beat_that_runs_fires_every_slot_once_at_its_time(db, sql):
    s = add(db)
    assert s["next_fire"] == at(minutes=4, seconds=30)  # 12:05, the first slot after creation
    assert schedules.tick(db, at(minutes=4)) == 0
    assert schedules.tick(db, at(minutes=4, seconds=31)) == 1
    assert schedules.tick(db, at(minutes=4, seconds=33)) == 0  # the same slot, a tick later
    assert schedules.tick(db, at(minutes=9, seconds=31)) == 1
    assert slots(sql) == [datetime(2030, 1, 7, 12, 5, tzinfo=UTC), datetime(2030, 1, 7, 12, 10, tzinfo=UTC)]
    assert tasks_of(sql) == 2
    got = schedules.get(db, "every5")
    assert got["last_slot"] == datetime(2030, 1, 7, 12, 10, tzinfo=UTC)
    assert got["next_fire"] == datetime(2030, 1, 7, 12, 15, tzinfo=UTC)
    assert got["missed"] == 0


@pytest.mark.rolled_back
def test_the_task_records_its_schedule_and_slot(db, sql):
    s = add(db)
    schedules.tick(db, at(minutes=5))
    run = runs(sql)[0]
    task = sql.execute("SELECT title, team, category, priority, idempotency_key FROM phoenix.tasks WHERE id = %s",
                       (run["task_id"],)).fetchone()
    assert (task["title"], task["team"], task["category"], task["priority"]) == ("nightly report", "alpha_delta",
                                                                                 "noop", 7)
    assert task["idempotency_key"] == f"schedule:{s['id']}:cron:2030-01-07T12:05:00.000000Z"
    event = sql.execute("SELECT detail FROM phoenix.task_events WHERE task_id = %s AND kind = 'scheduled'",
                        (run["task_id"],)).fetchone()
    assert event["detail"]["schedule"] == "every5" and event["detail"]["kind"] == "cron"
    assert datetime.fromisoformat(event["detail"]["slot"]) == datetime(2030, 1, 7, 12, 5, tzinfo=UTC)


@pytest.mark.rolled_back
@pytest.mark.parametrize(("policy", "fired", "missed"), [
    # down from 12:03 to 13:02:30: the slots 12:05 ... 13:00 (12 of them) passed; 13:00 is 150 s late
    ("latest", ["13:00"], 11),
    ("all", [f"{h}:{m:02d}" for h, m in [(12, m) for m in range(5, 60, 5)] + [(13, 0)]], 0),
    ("none", [], 12),
])
def test_catch_up_after_downtime(db, sql, policy, fired, missed):
    add(db, catch_up=policy)
    assert schedules.tick(db, at(minutes=2, seconds=30)) == 0
    schedules.tick(db, at(minutes=62))
    assert [s.strftime("%H:%M") for s in slots(sql)] == fired
    got = schedules.get(db, "every5")
    assert got["missed"] == missed
    assert got["next_fire"] == datetime(2030, 1, 7, 13, 5, tzinfo=UTC)
    # the beat back: the next slot fires on time whatever the policy, once
    schedules.tick(db, at(minutes=64, seconds=31))
    schedules.tick(db, at(minutes=64, seconds=40))
    assert [s.strftime("%H:%M") for s in slots(sql)] == [*fired, "13:05"]


@pytest.mark.rolled_back
def test_slots_found_within_a_minute_are_on_time_and_all_fire_whatever_the_policy(db, sql):
    add(db, "everysecond", "* * * * * *", catch_up="none")
    schedules.tick(db, at(seconds=10))  # ten slots, the oldest 9.x s late: on time
    assert len(slots(sql, "everysecond")) == 10
    assert schedules.get(db, "everysecond")["missed"] == 0


@pytest.mark.rolled_back
def test_catch_up_all_is_bounded(db, sql):
    add(db, "everysecond", "* * * * * *", catch_up="all")
    schedules.tick(db, at(minutes=60))  # 3600 slots due
    fired = slots(sql, "everysecond")
    assert len(fired) == 100 and fired[-1] == at(minutes=60).replace(microsecond=0)
    assert schedules.get(db, "everysecond")["missed"] == 3600 - 100


@pytest.mark.rolled_back
def test_a_very_long_outage_jumps_to_the_latest_slot(db, sql):
    add(db, "everysecond", "* * * * * *", catch_up="latest")
    now = at(minutes=60 * 24)
    schedules.tick(db, now)  # 86,400 slots due: counted up to the scan bound, then a jump to now
    fired = slots(sql, "everysecond")
    assert fired == [now - timedelta(seconds=s) for s in range(60, -1, -1)]  # those of the last minute are on time
    assert schedules.get(db, "everysecond")["next_fire"] == at(minutes=60 * 24, seconds=1).replace(microsecond=0)


@pytest.mark.rolled_back
def test_a_paused_schedule_does_not_fire_and_resumes_from_the_next_slot(db, sql):
    add(db)
    assert schedules.pause(db, "every5", now=at(minutes=1))["paused"]
    assert schedules.pause(db, "every5", now=at(minutes=2))["paused_at"] == at(minutes=1)  # idempotent
    assert schedules.tick(db, at(minutes=5)) == 0
    assert schedules.tick(db, at(minutes=30)) == 0
    assert slots(sql) == []
    resumed = schedules.resume(db, "every5", now=at(minutes=31))
    assert not resumed["paused"]
    assert resumed["next_fire"] == datetime(2030, 1, 7, 12, 35, tzinfo=UTC)  # the paused slots are not caught up
    schedules.tick(db, at(minutes=31))
    schedules.tick(db, at(minutes=35))
    assert slots(sql) == [datetime(2030, 1, 7, 12, 35, tzinfo=UTC)]
    assert schedules.get(db, "every5")["missed"] == 0


@pytest.mark.rolled_back
def test_run_now_fires_once_at_once_and_leaves_the_next_slot_alone(db, sql):
    add(db)
    out = schedules.run_now(db, "every5", now=at(minutes=2))
    assert out["fired"] and out["task_id"] is not None
    assert slots(sql, kind="manual") == [at(minutes=2)] and slots(sql) == []
    assert schedules.get(db, "every5")["next_fire"] == datetime(2030, 1, 7, 12, 5, tzinfo=UTC)
    schedules.tick(db, at(minutes=4, seconds=31))
    assert slots(sql) == [datetime(2030, 1, 7, 12, 5, tzinfo=UTC)]
    assert tasks_of(sql) == 2
    # a run-now at the very instant of a slot is its own run: the slot still fires
    add(db, "other", now=T0)
    schedules.run_now(db, "other", now=datetime(2030, 1, 7, 12, 5, tzinfo=UTC))
    schedules.tick(db, datetime(2030, 1, 7, 12, 5, tzinfo=UTC))
    assert len(runs(sql, "other")) == 2 and tasks_of(sql, "other") == 2


@pytest.mark.rolled_back
def test_run_now_works_while_paused(db, sql):
    add(db)
    schedules.pause(db, "every5", now=at(minutes=1))
    assert schedules.run_now(db, "every5", now=at(minutes=2))["fired"]
    assert tasks_of(sql) == 1


@pytest.mark.rolled_back
def test_a_refused_submission_spends_its_slot_and_is_shown(db, sql):
    from tests.conftest import make_agent
    from phoenix_board.board import agents

    author = make_agent(db)
    add(db, task={**TASK, "created_by": str(author.id)})
    agents.decommission(db, author.id)
    schedules.tick(db, at(minutes=5))
    (run,) = runs(sql)
    assert run["task_id"] is None and "decommissioned" in run["error"]
    got = schedules.get(db, "every5")
    assert got["last_error"] == run["error"] and got["next_fire"] == datetime(2030, 1, 7, 12, 10, tzinfo=UTC)
    schedules.tick(db, at(minutes=5, seconds=5))
    assert len(runs(sql)) == 1  # not retried
    with pytest.raises(errors.Conflict, match="refused"):
        schedules.run_now(db, "every5", now=at(minutes=6))


@pytest.mark.rolled_back
def test_time_zone_slots_follow_the_wall_clock_and_debian_cron_across_dst(db, sql):
    # 02:30 every day in Berlin: on 2030-03-31 the clocks skip 02:00-03:00, so it fires at 03:00
    # (Debian cron's rule); on 2030-10-27 02:30 comes twice and it fires once
    spring = datetime(2030, 3, 30, 12, 0, tzinfo=UTC)
    add(db, "berlin", "30 2 * * *", timezone_name="Europe/Berlin", now=spring, catch_up="all")
    schedules.tick(db, spring + timedelta(days=2))
    assert [s.isoformat() for s in slots(sql, "berlin")] == ["2030-03-31T01:00:00+00:00", "2030-04-01T00:30:00+00:00"]
    fall = datetime(2030, 10, 26, 12, 0, tzinfo=UTC)
    add(db, "berlin2", "30 2 * * *", timezone_name="Europe/Berlin", now=fall, catch_up="all")
    schedules.tick(db, fall + timedelta(days=1))
    assert [s.isoformat() for s in slots(sql, "berlin2")] == ["2030-10-27T00:30:00+00:00"]
    # hourly follows real time: the repeated 02:00 runs in both passes (00:00 and 01:00 UTC)
    add(db, "hourly", "0 * * * *", timezone_name="Europe/Berlin", now=datetime(2030, 10, 26, 23, 30, tzinfo=UTC),
        catch_up="all")
    schedules.tick(db, datetime(2030, 10, 27, 2, 30, tzinfo=UTC))
    assert [s.strftime("%H:%M") for s in slots(sql, "hourly")] == ["00:00", "01:00", "02:00"]


def test_two_beats_racing_the_tick_fire_each_slot_once(url, sql):
    """Threads with connections of their own run the tick at the same instants, without the beat's
    advisory lock: only the slot's key keeps them apart."""
    with Database(url, min_size=1, max_size=8) as db:
        for i in range(4):
            add(db, f"s{i}", "* * * * * *", catch_up="all")
        barrier = threading.Barrier(4)
        failures: list[BaseException] = []

        def beat() -> None:
            try:
                for step in range(1, 16):
                    barrier.wait()
                    schedules.tick(db, at(seconds=step * 2))
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)

        threads = [threading.Thread(target=beat) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures
    rows = sql.execute("SELECT s.name, count(*) AS n, count(DISTINCT r.slot) AS d, count(r.task_id) AS t "
                       "FROM phoenix.schedule_runs r JOIN phoenix.schedules s ON s.id = r.schedule_id "
                       "GROUP BY s.name ORDER BY s.name").fetchall()
    assert [(r["n"], r["d"], r["t"]) for r in rows] == [(30, 30, 30)] * 4
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"] == 120


@pytest.mark.rolled_back
def test_run_now_with_a_key_fires_once_however_often_it_is_asked(db, sql):
    add(db)
    first = schedules.run_now(db, "every5", now=at(minutes=1), key="deploy-42")
    again = schedules.run_now(db, "every5", now=at(minutes=3), key="deploy-42")  # a retry, later
    assert first["fired"] and not again["fired"]
    assert again["task_id"] == first["task_id"] and again["slot"] == first["slot"] == at(minutes=1)
    other = schedules.run_now(db, "every5", now=at(minutes=3), key="deploy-43")
    assert other["fired"] and other["task_id"] != first["task_id"]
    assert tasks_of(sql) == 2 and len(slots(sql, kind="manual")) == 2


def test_concurrent_run_now_with_one_key_submit_one_task(url, sql):
    """Eight threads with connections of their own ask at once (a client retrying in a hurry)."""
    with Database(url, min_size=1, max_size=8) as db:
        add(db)
        barrier = threading.Barrier(8)
        outs: list[dict] = []
        failures: list[BaseException] = []

        def ask(i: int) -> None:
            try:
                barrier.wait()
                outs.append(schedules.run_now(db, "every5", now=at(minutes=1, seconds=i), key="once"))
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not failures
    assert sum(o["fired"] for o in outs) == 1 and len({o["task_id"] for o in outs}) == 1
    assert tasks_of(sql) == 1 and len(slots(sql, kind="manual")) == 1


@pytest.mark.rolled_back
@pytest.mark.parametrize(("key", "message"), [("", "idempotency_key must be 1-"), ("x" * 201, "idempotency_key must be 1-"),
                                              ("a\x00b", "NUL")])
def test_a_bad_run_now_key_is_refused_in_one_line(db, sql, key, message):
    add(db)
    with pytest.raises(errors.InvalidInput) as refused:
        schedules.run_now(db, "every5", now=at(minutes=1), key=key)
    assert message in refused.value.message
    assert_one_line(refused.value.message)
    assert runs(sql) == [] and tasks_of(sql) == 0


# --- bad input: one line, nothing written --------------------------------------------------------

@pytest.mark.rolled_back
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cron": "*/5 * * *"}, "has 4 fields"),
    ({"cron": "61 * * * *"}, "bad minute"),
    ({"cron": "0 0 31 2 *"}, "bad day-of-month"),
    ({"cron": ""}, "cron must be text"),
    ({"cron": 5}, "cron must be text"),
    ({"timezone_name": "Mars/Olympus"}, "time zone 'Mars/Olympus' not found"),
    ({"timezone_name": "../../etc/passwd"}, "not found"),
    ({"catch_up": "some"}, "catch-up 'some' is not one of latest, all, none"),
    ({"name": "Bad Name"}, "schedule name 'Bad Name' must be"),
    ({"task": {"team": "alpha_delta"}}, "title is required"),
    ({"task": {**TASK, "priority": 11}}, "priority"),
    ({"task": {**TASK, "colour": "red"}}, "unknown field 'colour'"),
    ({"task": {**TASK, "idempotency_key": "k"}}, "no idempotency_key"),
    ({"task": {**TASK, "deadline": "2031-01-01T00:00:00Z"}}, "no deadline"),
    ({"task": {**TASK, "team": "nosuchteam"}}, "team nosuchteam not found"),
    ({"task": "not an object"}, "expected an object"),
])
def test_bad_input_is_one_line_and_writes_nothing(db, sql, kwargs, message):
    before = sql.execute("SELECT count(*) AS n FROM phoenix.schedules").fetchone()["n"]
    with pytest.raises(errors.BoardError) as caught:
        add(db, **kwargs)
    assert message in caught.value.message
    assert_one_line(caught.value.message)
    assert sql.execute("SELECT count(*) AS n FROM phoenix.schedules").fetchone()["n"] == before


@pytest.mark.rolled_back
def test_names_are_unique_and_unknown_names_are_not_found(db):
    add(db)
    with pytest.raises(errors.Conflict, match="exists already"):
        add(db)
    for fn in (schedules.pause, schedules.resume, schedules.run_now, schedules.remove, schedules.get):
        with pytest.raises(errors.NotFound, match="schedule 'nope' not found"):
            fn(db, "nope")


@pytest.mark.rolled_back
def test_remove_deletes_the_schedule_and_its_runs_but_not_its_tasks(db, sql):
    add(db)
    schedules.tick(db, at(minutes=5))
    schedules.remove(db, "every5")
    assert runs(sql) == []
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE title = 'nightly report'").fetchone()["n"] == 1
    assert schedules.list_all(db) == []


@pytest.mark.rolled_back
def test_runs_older_than_a_week_are_forgotten_and_their_slots_never_fire_again(db, sql):
    add(db)
    schedules.tick(db, at(minutes=5))
    week = timedelta(days=7, minutes=10)
    schedules.tick(db, at(minutes=5) + week)  # catch-up latest: one slot, and the 12:05 run is forgotten
    assert [s.strftime("%m-%d %H:%M") for s in slots(sql)] == ["01-14 12:15"]
    schedules.tick(db, at(minutes=5) + week + timedelta(seconds=5))
    assert len(slots(sql)) == 1 and tasks_of(sql) == 1


@pytest.mark.rolled_back
def test_runs_lists_the_latest_runs_newest_first(db):
    add(db)
    schedules.run_now(db, "every5", now=at(minutes=1))
    schedules.tick(db, at(minutes=5))
    got = schedules.runs(db, "every5")
    assert [(r["kind"], r["slot"]) for r in got] == [("cron", datetime(2030, 1, 7, 12, 5, tzinfo=UTC)),
                                                     ("manual", at(minutes=1))]
    assert all(r["task_id"] is not None and r["error"] is None for r in got)
