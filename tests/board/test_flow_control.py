"""Flow control through the Python API (docs/concepts/flow-control.md): pause and resume, a task's
not-before time, concurrency keys, rate limits and budgets, each at a pinned ``now``. The races
across many connections are in test_flow_races.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import errors, gates, lifecycle, models
from tests.conftest import make_agent, make_task, snapshot

pytestmark = pytest.mark.rolled_back

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


def claim(db, agent, at=T0):
    return lifecycle.claim(db, agent.id, now=at)


def test_a_paused_team_claims_nothing_until_resumed(db):
    agent = make_agent(db, now=T0)
    make_task(db, now=T0)
    row = gates.pause(db, "team", "alpha_delta", "maintenance", now=T0)
    assert row["paused_at"] == T0 and row["paused_reason"] == "maintenance"
    assert claim(db, agent) is None
    [gate] = gates.status(db, now=T0 + timedelta(seconds=90))
    assert gate["held"] == "paused" and gate["paused_seconds"] == 90
    gates.resume(db, "team", "alpha_delta", now=T0)
    assert claim(db, agent) is not None
    assert gates.paused(db, now=T0) == []


def test_a_paused_category_is_skipped_and_others_are_still_claimed(db):
    agent = make_agent(db, now=T0)
    first = make_task(db, now=T0, category="llm", priority=10)
    second = make_task(db, now=T0, category="general")
    gates.pause(db, "category", "llm", now=T0)
    got = claim(db, agent)
    assert got.id == second.id
    lifecycle.result(db, got.id, agent.id, got.attempt, now=T0)
    assert claim(db, agent) is None
    gates.resume(db, "category", "llm", now=T0)
    assert claim(db, agent).id == first.id


def test_work_in_flight_finishes_while_paused_and_drain_counts_it(db):
    agent = make_agent(db, now=T0)
    make_task(db, now=T0)
    got = claim(db, agent)
    seen = []
    assert gates.drain(db, "team", "alpha_delta", timeout=0, progress=seen.append) == 1
    assert seen == [1]
    lifecycle.result(db, got.id, agent.id, got.attempt, now=T0)  # in flight: it finishes
    assert gates.drain(db, "team", "alpha_delta", timeout=0) == 0
    assert gates.status(db, "team", "alpha_delta")[0]["held"] == "paused"  # drain leaves it paused


def test_not_before_holds_a_task_back_and_the_claim_order_respects_it(db):
    agent = make_agent(db, now=T0)
    later = make_task(db, now=T0, priority=10, not_before=T0 + timedelta(minutes=10))
    now_task = make_task(db, now=T0 + timedelta(minutes=1), priority=1)
    assert later.available_at == T0 + timedelta(minutes=10)
    assert claim(db, agent, T0 + timedelta(minutes=2)).id == now_task.id
    lifecycle.result(db, now_task.id, agent.id, 1, now=T0 + timedelta(minutes=2))
    assert claim(db, agent, T0 + timedelta(minutes=9)) is None
    assert claim(db, agent, T0 + timedelta(minutes=10)).id == later.id


def test_a_not_before_in_the_past_changes_nothing(db):
    task = make_task(db, now=T0, not_before=T0 - timedelta(hours=1))
    assert task.available_at == T0


def test_a_concurrency_key_admits_at_most_its_limit(db):
    agents = [make_agent(db, now=T0) for _ in range(4)]
    for _ in range(4):
        make_task(db, now=T0, concurrency_key="repo:a", concurrency_limit=2)
    other = make_task(db, now=T0, priority=1)
    got = [claim(db, a) for a in agents]
    keyed = [t for t in got if t is not None and t.concurrency_key == "repo:a"]
    assert len(keyed) == 2
    assert other.id in {t.id for t in got if t is not None}  # the full key is skipped, not a wall
    done = keyed[0]
    lifecycle.result(db, done.id, done.assigned_to, done.attempt, now=T0)
    idle = next(a for a, t in zip(agents, got, strict=True) if t is None)
    assert claim(db, idle).concurrency_key == "repo:a"


def test_a_key_alone_is_a_limit_of_one(db):
    task = make_task(db, now=T0, concurrency_key="deploy")
    assert task.concurrency_limit == 1


def test_a_rate_limit_spaces_claims(db):
    agents = [make_agent(db, now=T0) for _ in range(3)]
    for _ in range(5):
        make_task(db, now=T0)
    gates.rate(db, "team", "alpha_delta", 60, burst=1, now=T0)
    assert claim(db, agents[0]) is not None
    assert claim(db, agents[1]) is None  # the next is due one second later
    assert claim(db, agents[1], T0 + timedelta(milliseconds=999)) is None
    assert claim(db, agents[1], T0 + timedelta(seconds=1)) is not None
    gates.rate(db, "team", "alpha_delta", None, now=T0)
    assert claim(db, agents[2], T0 + timedelta(seconds=1)) is not None


def test_a_burst_goes_back_to_back_then_the_rate_holds(db):
    agents = [make_agent(db, now=T0) for _ in range(5)]
    for _ in range(5):
        make_task(db, now=T0, category="llm")
    gates.rate(db, "category", "llm", 120, burst=3, now=T0)
    got = [claim(db, a) for a in agents]
    assert sum(t is not None for t in got) == 3
    idle = [a for a, t in zip(agents, got, strict=True) if t is None]
    assert claim(db, idle[0], T0 + timedelta(milliseconds=400)) is None
    assert claim(db, idle[0], T0 + timedelta(milliseconds=500)) is not None


def test_a_spent_budget_stops_claims_until_the_next_window(db):
    agent = make_agent(db, now=T0)
    for _ in range(3):
        make_task(db, now=T0)
    gates.budget(db, "team", "alpha_delta", hour_cost=1.0, now=T0)
    got = claim(db, agent)
    usage = {"tokens_in": 1000, "tokens_out": 200, "cost": 1.25, "model": "small-1"}
    lifecycle.result(db, got.id, agent.id, got.attempt, output={"usage": usage}, now=T0)
    [gate] = gates.status(db, "team", "alpha_delta", now=T0)
    assert gate["held"] == "budget" and float(gate["hour_cost"]) == 1.25 and gate["hour_tokens"] == 1200
    assert claim(db, agent, T0 + timedelta(minutes=59)) is None
    assert claim(db, agent, T0 + timedelta(hours=1)) is not None  # the next hour
    [row] = gates.usage(db, agent=agent.id)
    assert (row["tokens_in"], row["tokens_out"], float(row["cost"]), row["model"]) == (1000, 200, 1.25, "small-1")


def test_a_day_budget_in_tokens_counts_usage_from_before_it_was_set(db):
    agent = make_agent(db, now=T0)
    for _ in range(2):
        make_task(db, now=T0, category="llm")
    got = claim(db, agent)
    lifecycle.result(db, got.id, agent.id, got.attempt, output={"usage": {"tokens_out": 500}}, now=T0)
    gates.budget(db, "category", "llm", day_tokens=500, now=T0 + timedelta(hours=3))
    assert claim(db, agent, T0 + timedelta(hours=3)) is None
    assert claim(db, agent, T0 + timedelta(hours=12)) is not None  # midnight UTC: a new day


@pytest.mark.parametrize("usage", [{"cost": -1}, {"tokens_in": 1.5}, {"tokens_in": "9"}, {"dollars": 1},
                                   {"model": ""}, [1, 2]])
def test_a_malformed_usage_refuses_the_result_and_changes_nothing(db, sql, usage):
    agent = make_agent(db, now=T0)
    make_task(db, now=T0)
    got = claim(db, agent)
    before = snapshot(sql)
    with pytest.raises(errors.InvalidInput, match="usage"):
        lifecycle.result(db, got.id, agent.id, got.attempt, output={"usage": usage}, now=T0)
    assert snapshot(sql) == before


@pytest.mark.parametrize(("call", "message"), [
    (lambda db: gates.pause(db, "host", "x"), "scope kind must be team or category"),
    (lambda db: gates.pause(db, "team", "No Such"), "team 'No Such' must be"),
    (lambda db: gates.pause(db, "team", "nosuchteam"), "team nosuchteam not found"),
    # the category rule is the one a submission is held to (models.category_arg)
    (lambda db: gates.pause(db, "category", "Mining"), f"category 'Mining' {models.CATEGORY_RULE}"),
    (lambda db: gates.rate(db, "category", "a\x00b", 10), f"category 'a\\x00b' {models.CATEGORY_RULE}"),
    (lambda db: make_task(db, category="Mining"), models.RULES["category"]),
    (lambda db: gates.rate(db, "team", "alpha_delta", 0), "rate must be a whole number from 1"),
    (lambda db: gates.rate(db, "team", "alpha_delta", None, burst=3), "burst needs a rate"),
    (lambda db: gates.budget(db, "team", "alpha_delta", hour_cost=-1), "hour cost budget must be"),
    (lambda db: gates.budget(db, "team", "alpha_delta", day_tokens=1.5), "day tokens budget must be"),
    (lambda db: gates.drain(db, "team", "alpha_delta", timeout=-1), "timeout must be"),
    (lambda db: make_task(db, concurrency_limit=2), "concurrency_limit needs a concurrency_key"),
    (lambda db: make_task(db, concurrency_key="k", concurrency_limit=0), "concurrency_limit"),
    (lambda db: make_task(db, not_before="tomorrow"), "not_before"),
])
def test_bad_input_is_one_line_and_changes_nothing(db, sql, call, message):
    before = snapshot(sql)
    gates_before = sql.execute("SELECT count(*) AS n FROM phoenix.claim_gates").fetchone()["n"]
    with pytest.raises(errors.BoardError) as caught:
        call(db)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert snapshot(sql) == before
    assert sql.execute("SELECT count(*) AS n FROM phoenix.claim_gates").fetchone()["n"] == gates_before


def test_a_fast_rate_is_shared_over_slots_and_still_holds(db):
    agents = [make_agent(db, now=T0) for _ in range(12)]
    for _ in range(25):
        make_task(db, now=T0)
    gates.rate(db, "team", "alpha_delta", 6000, burst=10, now=T0)  # ten slots, each one claim per 100 ms
    got = [claim(db, a) for a in agents[:11]]
    assert sum(t is not None for t in got) == 10  # one per slot at once: the burst
    for t in got:
        if t is not None:
            lifecycle.result(db, t.id, t.assigned_to, t.attempt, now=T0)
    assert claim(db, agents[11], T0 + timedelta(milliseconds=99)) is None
    again = [claim(db, a, T0 + timedelta(milliseconds=100)) for a in agents[:11]]
    assert sum(t is not None for t in again) == 10
