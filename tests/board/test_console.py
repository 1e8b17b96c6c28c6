"""The operations console's figures (board/console.py; docs/operations/console.md), counted against what
the test did to the board."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import agents, console, constants, errors, lifecycle, members
from tests.conftest import make_agent, make_task


def _by(rows, key):
    return {r[key]: r for r in rows}


@pytest.mark.rolled_back
def test_oldest_claimable_per_team(db):
    now = datetime.now(UTC)
    make_task(db, team="alpha_delta", now=now - timedelta(minutes=5))
    make_task(db, team="alpha_delta", now=now - timedelta(minutes=2), priority=10)  # first to claim, not oldest
    blocked_on = make_task(db, team="iota", now=now - timedelta(minutes=30))
    agent = make_agent(db, team="iota")
    lifecycle.claim(db, agent.id, now=now - timedelta(minutes=29))  # iota's only task is claimed
    make_task(db, team="iota", depends_on=[blocked_on.id], now=now - timedelta(minutes=20))  # not claimable
    rows = _by(console.oldest_claimable(db, now=now), "team")
    assert rows["alpha_delta"]["seconds"] == pytest.approx(300, abs=1)
    assert rows["iota"]["seconds"] == 0 and rows["iota"]["task_id"] is None
    assert rows["epsilon_zeta"]["seconds"] == 0
    assert [r["team"] for r in console.oldest_claimable(db, team="iota", now=now)] == ["iota"]


@pytest.mark.rolled_back
def test_failures_grouped_by_reason_and_time_in_status(db):
    now = datetime.now(UTC)
    agent = make_agent(db, now=now - timedelta(minutes=30))
    for i in range(3):
        task = make_task(db, max_attempts=1 if i < 2 else 3, now=now - timedelta(minutes=30))
        claim = lifecycle.claim(db, agent.id, now=now - timedelta(minutes=20 - i))
        lifecycle.fail(db, task.id, agent.id, claim.attempt, "disk full", now=now - timedelta(minutes=19 - i))
    other = make_task(db, team="iota", now=now - timedelta(minutes=30))
    iota = make_agent(db, team="iota")
    claim = lifecycle.claim(db, iota.id, now=now - timedelta(minutes=10))
    lifecycle.fail(db, other.id, iota.id, claim.attempt, "timeout", now=now - timedelta(minutes=9))
    old = make_task(db, now=now - timedelta(hours=3))
    claim = lifecycle.claim(db, agent.id, now=now - timedelta(hours=3))
    lifecycle.fail(db, old.id, agent.id, claim.attempt, "long ago", now=now - timedelta(hours=2))

    rows = _by(console.failures(db, now=now), "reason")
    assert set(rows) == {"disk full", "timeout"}  # the last hour only
    assert rows["disk full"]["attempts"] == 3 and rows["disk full"]["final"] == 2 and rows["disk full"]["tasks"] == 3
    assert rows["disk full"]["teams"] == ["alpha_delta"] and rows["disk full"]["kinds"] == ["failed"]
    assert [r["reason"] for r in console.failures(db, team="iota", now=now)] == ["timeout"]
    since = console.parse_since("3h", now)
    assert "long ago" in _by(console.failures(db, since=since, now=now), "reason")

    stays = _by(console.time_in_status(db, since=now - timedelta(hours=1), now=now), "status")
    assert stays["claimed"]["stays"] == 4 and stays["claimed"]["mean_seconds"] == pytest.approx(60)
    assert stays["open"]["running"] >= 1  # the task that retries waits on the board now


@pytest.mark.rolled_back
def test_stalled_reviews_and_waiting_for_people_are_apart(db):
    now = datetime.now(UTC)
    t0 = now - timedelta(seconds=constants.REVIEW_STALLED_SECONDS + 60)
    executor = make_agent(db, now=t0)
    members.add(db, "ada", "alpha_delta")
    plain = make_task(db, review_quorum=1, now=t0)
    person = make_task(db, review_quorum=1, needs_person=True, now=t0)
    for task in (plain, person):
        claim = lifecycle.claim(db, executor.id, now=t0)
        lifecycle.result(db, claim.id, executor.id, claim.attempt, now=t0)
    assert [r["id"] for r in console.stalled_reviews(db, now=now)] == [plain.id]
    figures = console.figures(db, now=now, periods={"snapshot": 10.0})
    assert [r["id"] for r in figures["waiting_for_people"]] == [person.id]
    assert figures["beat_jobs"][0]["job"] == "snapshot" and figures["beat_jobs"][0]["state"] == "stale"
    assert figures["relay"]["unpublished"] >= 0 and figures["alerts"] is None
    assert {"depth", "oldest_claimable", "time_in_status", "failures", "agents_by_host"} <= set(figures)


@pytest.mark.rolled_back
def test_depth_from_the_kept_counts(db):
    for _ in range(3):
        make_task(db, team="iota")
    rows = {(r["team"], r["status"]): r["n"] for r in console.depth(db)}
    assert rows[("iota", "open")] == 3


@pytest.mark.rolled_back
def test_agents_by_host_leaves_members_out(db):
    now = datetime.now(UTC)
    make_agent(db, codename="alpha_delta.hostA-0", now=now)
    make_agent(db, codename="alpha_delta.hostA-1", now=now - timedelta(hours=1))
    make_agent(db, codename="alpha_delta.hostB.2-0", now=now)
    make_agent(db, codename="mypool-3", now=now)
    members.add(db, "ada", "alpha_delta")
    rows = _by(console.agents_by_host(db, now=now), "host")
    assert set(rows) == {"hostA", "hostB", "mypool"}
    assert rows["hostA"]["live"] == 1 and rows["hostA"]["dead_agents"] == ["alpha_delta.hostA-1"]
    assert agents.list_agents(db, kind="member")[0].codename == "ada"


def test_alerts_reader_failing_does_not_hide_the_rest(db):
    def unreachable():
        raise errors.Unavailable("cannot read alerts from Prometheus at http://127.0.0.1:1: refused")

    figures = console.figures(db, alerts=unreachable)
    assert figures["alerts"] is None and figures["alerts_error"].startswith("cannot read alerts")
    assert console.figures(db, alerts=lambda: [{"name": "TaskQueueLagging"}])["alerts"] == [{"name": "TaskQueueLagging"}]


@pytest.mark.parametrize("text", ["1x", "", "0h", "100d", "-1h", "2026-12-01T12:00:00", "yesterday"])
def test_bad_since_is_refused_in_one_line(text):
    with pytest.raises(errors.InvalidInput) as info:
        console.parse_since(text)
    assert len(str(info.value).splitlines()) == 1


def test_since_is_a_duration_or_a_zoned_time():
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert console.parse_since("2h", now) == now - timedelta(hours=2)
    assert console.parse_since("2026-12-01T12:00:00Z", now) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
