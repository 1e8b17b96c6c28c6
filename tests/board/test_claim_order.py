"""The claim order (sql/functions/11_claim_key.sql) and what is never claimed, with pinned times.

Agents take open tasks by ascending ``claim_key``, then ``id``. The key is the time the task became
available, moved earlier by bounded boosts for priority and hot score, and no later than
DEADLINE_LEAD before its deadline. Because the boosts are bounded, an old task gets ahead of
anything newer once it has waited longer than the largest boost difference: nothing starves,
unlike in Lemmy's hot order, where old posts sink for good.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from phoenix_board.board import constants, delegation, lifecycle, models, ranking, votes
from tests.conftest import make_agent, make_task

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
STEP = constants.PRIORITY_STEP_SECONDS


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def claim_and_finish(db, agent: UUID, now: datetime) -> models.Task | None:
    """The agent claims the next task and completes it at once; None when nothing is claimable."""
    task = lifecycle.claim(db, agent, now=now)
    if task is not None:
        lifecycle.result(db, task.id, agent, task.attempt, now=now)
    return task


def claim_order(db, agent: UUID, now: datetime) -> list[UUID]:
    """Every task the agent can claim at ``now``, in the order it claims them."""
    order = []
    while (task := claim_and_finish(db, agent, now)) is not None:
        order.append(task.id)
        assert len(order) < 1000
    return order


def upvote(db, task: UUID, voters: list, now: datetime) -> None:
    for voter in voters:
        votes.vote(db, task, voter.id, 1, now=now)


# --- what moves a task ahead ------------------------------------------------------------------


def test_higher_priority_is_claimed_first(db):
    agent = make_agent(db)
    by_priority = {p: make_task(db, now=T0, priority=p).id for p in (3, 10, 1, 5, 7)}
    assert claim_order(db, agent.id, at(60)) == [by_priority[p] for p in (10, 7, 5, 3, 1)]


@pytest.mark.parametrize("later_by,first", [(5 * STEP - 60, "urgent"), (5 * STEP + 60, "normal")])
def test_priority_boost_is_worth_a_bounded_wait(db, later_by, first):
    """Priority 10 is five steps ahead of priority 5: it overtakes a task submitted up to 5 * STEP
    earlier, and no more."""
    agent = make_agent(db)
    tasks = {"normal": make_task(db, now=T0, priority=5).id,
             "urgent": make_task(db, now=at(later_by), priority=10).id}
    order = claim_order(db, agent.id, at(later_by + 60))
    assert order[0] == tasks[first] and set(order) == set(tasks.values())


def test_hot_score_moves_a_task_ahead(db, sql):
    """An upvoted task submitted later overtakes an older one of the same priority, by hot * HOT_BOOST_SECONDS."""
    agent, voters = make_agent(db), [make_agent(db) for _ in range(5)]
    older = make_task(db, now=T0)
    newer = make_task(db, now=at(60))
    upvote(db, newer.id, voters, at(120))
    row = sql.execute("SELECT hot_score, available_at, claim_key FROM phoenix.tasks WHERE id = %s", (newer.id,)).fetchone()
    assert row["hot_score"] > 0
    boost = min(row["hot_score"], constants.HOT_BOOST_CAP) * constants.HOT_BOOST_SECONDS
    assert (row["available_at"] - row["claim_key"]).total_seconds() == pytest.approx(boost, abs=1e-3)
    assert boost > 60  # enough to overtake a task one minute older
    assert claim_order(db, agent.id, at(180)) == [newer.id, older.id]


def test_retracted_votes_give_the_boost_back(db, sql):
    """Five upvotes carry a task ten minutes ahead; retracted, it falls back behind.

    Score 0 still has a hot rank (Lemmy's log10(max(2, score + 2)) is log10(2)), so the retracted
    task keeps that small boost: less than the ten minutes between the two tasks.
    """
    agent, voters = make_agent(db), [make_agent(db) for _ in range(5)]
    older = make_task(db, now=T0)
    newer = make_task(db, now=at(600))

    def boost() -> float:
        row = sql.execute("SELECT available_at - claim_key AS b FROM phoenix.tasks WHERE id = %s", (newer.id,)).fetchone()
        return row["b"].total_seconds()

    upvote(db, newer.id, voters, at(660))
    assert boost() > 600
    for voter in voters:
        votes.vote(db, newer.id, voter.id, 0, now=at(670))
    zero_score_rank = sql.execute("SELECT phoenix.hot_rank(0, %s, %s) AS r", (at(600), at(670))).fetchone()["r"]
    assert boost() == pytest.approx(zero_score_rank * constants.HOT_BOOST_SECONDS, abs=1e-3)
    assert boost() < 600
    assert claim_order(db, agent.id, at(700)) == [older.id, newer.id]


def test_near_deadline_moves_a_task_ahead(db):
    """A task is due DEADLINE_LEAD before its deadline; a far deadline moves nothing."""
    agent = make_agent(db)
    lead = constants.DEADLINE_LEAD_SECONDS
    plain = make_task(db, now=T0)
    due_soon = make_task(db, now=at(600), deadline=at(600 + lead / 2))  # due at T0 - 20 min: ahead of plain
    due_late = make_task(db, now=at(600), deadline=at(600 + 24 * 3600))  # due tomorrow: waits its turn
    assert claim_order(db, agent.id, at(660)) == [due_soon.id, plain.id, due_late.id]


def test_equal_keys_break_by_id(db, sql):
    agent = make_agent(db)
    tasks = [make_task(db, now=T0).id for _ in range(8)]
    keys = sql.execute("SELECT DISTINCT claim_key FROM phoenix.tasks").fetchall()
    assert len(keys) == 1
    assert claim_order(db, agent.id, at(1)) == sorted(tasks)


def test_equal_keys_are_claimed_in_the_order_they_were_made(db, sql):
    """Tasks of one submission, and children of one delegation, share a claim_key; their ids, made
    within a millisecond of each other, keep the order they were made in (migration 0036)."""
    agent = make_agent(db)
    made = [task.id for task, _ in lifecycle.submit_many(
        db, [({"title": f"step {i}", "team": "alpha_delta"}, None) for i in range(60)], now=T0)]
    assert len({r["claim_key"] for r in sql.execute("SELECT claim_key FROM phoenix.tasks").fetchall()}) == 1
    assert all(UUID(str(i)).version == 7 for i in made)
    assert claim_order(db, agent.id, at(1)) == made
    parent = make_task(db, now=at(2))
    boss = make_agent(db)
    claimed = lifecycle.claim(db, boss.id, now=at(3))
    assert claimed.id == parent.id
    _, children, _ = delegation.delegate(db, parent.id, boss.id, claimed.attempt,
                                         [{"title": f"part {i}"} for i in range(40)], now=at(4))
    assert claim_order(db, agent.id, at(5)) == children


def test_claims_follow_claim_key_then_id(db, sql):
    """A mixed board (priorities, submit times, deadlines, votes, equal keys) is claimed exactly in
    (claim_key, id) order."""
    agent, voters = make_agent(db), [make_agent(db) for _ in range(3)]
    for i in range(40):
        deadline = at(i * 97 + 1800 + (i % 5) * 900) if i % 4 == 0 else None
        task = make_task(db, now=at(i * 97 % 1200), priority=1 + i * 7 % 10, deadline=deadline)
        if i % 6 == 1:
            upvote(db, task.id, voters[: 1 + i % 3], at(1300))
    expected = [r["id"] for r in sql.execute("SELECT id FROM phoenix.tasks ORDER BY claim_key, id").fetchall()]
    assert claim_order(db, agent.id, at(1400)) == expected


# --- no starvation ----------------------------------------------------------------------------

# The largest difference in boosts: priority 10 with the hot boost capped, against priority 1 (no deadlines).
MAX_BOOST_DIFFERENCE = (10 - 1) * STEP + constants.HOT_BOOST_CAP * constants.HOT_BOOST_SECONDS


def test_old_low_priority_task_is_claimed_while_hot_tasks_keep_arriving(db, sql):
    """An old priority-1 task with no votes is claimed within the bound the claim key implies.

    At T0 the board holds BACKLOG hot priority-10 tasks and the old task. Then, every simulated
    minute, a new priority-10 task arrives and is upvoted (a high hot score), and one agent claims
    and completes one task. A task is ahead of the old one only if it became available less than
    MAX_BOOST_DIFFERENCE after it, so at most BACKLOG + MAX_BOOST_DIFFERENCE / 60 tasks are ever
    ahead of it, and at one claim per minute it is claimed by that minute. All the while, the hot
    order (Lemmy's) would never offer it: it never reaches the first page of the hot sort.
    """
    worker, voters = make_agent(db), [make_agent(db) for _ in range(4)]
    backlog = 10
    bound_minutes = backlog + math.floor(MAX_BOOST_DIFFERENCE / 60) + 1
    stream_minutes = bound_minutes + 30

    def hot_task(minute: int) -> UUID:
        task = make_task(db, now=at(minute * 60), priority=10, title=f"hot task of minute {minute}")
        upvote(db, task.id, voters, at(minute * 60 + 1))
        return task.id

    old = make_task(db, now=T0, priority=1, title="old and unloved").id
    hot = {hot_task(0) for _ in range(backlog)}
    claimed_minute = None
    for minute in range(1, stream_minutes + 1):
        hot.add(hot_task(minute))
        first_hot_page, _ = ranking.page(db, "hot", statuses=["open"], limit=backlog)
        assert len(first_hot_page) == backlog
        assert old not in {r["id"] for r in first_hot_page}, f"minute {minute}"
        claimed = claim_and_finish(db, worker.id, at(minute * 60 + 2))
        if claimed.id == old:
            claimed_minute = minute
            break
        assert claimed.id in hot
    assert claimed_minute is not None, "the old task starved"
    assert claimed_minute <= bound_minutes
    # it was taken ahead of hot, higher-priority tasks that were still waiting
    waiting = sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'open' AND priority = 10 "
                          "AND hot_score > 0").fetchone()["n"]
    assert waiting >= 1


# --- what is never claimed ----------------------------------------------------------------------


def test_unfinished_dependencies_are_not_claimed(db):
    agent, other = make_agent(db), make_agent(db)
    dep = make_task(db, now=T0)
    dependent = make_task(db, now=at(1), priority=10, depends_on=[str(dep.id)])
    held = lifecycle.claim(db, other.id, now=at(2))
    assert held.id == dep.id
    assert lifecycle.claim(db, agent.id, now=at(3)) is None  # the dependent waits while its dependency runs
    lifecycle.result(db, dep.id, other.id, held.attempt, now=at(4))
    assert claim_and_finish(db, agent.id, at(5)).id == dependent.id


def test_other_teams_tasks_are_not_claimed(db):
    alpha, iota = make_agent(db, team="alpha_delta"), make_agent(db, team="iota")
    theirs = make_task(db, now=T0, team="iota", priority=10)
    ours = make_task(db, now=at(1), team="alpha_delta", priority=1)
    assert claim_order(db, alpha.id, at(2)) == [ours.id]
    assert claim_order(db, iota.id, at(2)) == [theirs.id]


def test_tasks_in_retry_backoff_are_not_claimed_until_available(db):
    agent = make_agent(db)
    task = make_task(db, now=T0, priority=10)
    first = lifecycle.claim(db, agent.id, now=at(1))
    retried = lifecycle.fail(db, task.id, agent.id, first.attempt, "flaky", now=at(2))
    assert retried.available_at == at(2 + constants.RETRY_BACKOFF_BASE_SECONDS)
    assert lifecycle.claim(db, agent.id, now=retried.available_at - timedelta(microseconds=1)) is None
    again = lifecycle.claim(db, agent.id, now=retried.available_at)
    assert (again.id, again.attempt) == (task.id, 2)


SIZES = constants.FIBONACCI_SIZES


def set_cortisol(sql, agent: UUID, cortisol: float) -> None:
    sql.execute("UPDATE phoenix.agents SET hormone_levels = jsonb_set(hormone_levels, '{cortisol}', to_jsonb(%s::float8)) "
                "WHERE id = %s", (cortisol, agent))


@pytest.mark.parametrize("cortisol,cap", [
    (constants.BASELINE_CORTISOL, max(SIZES)),
    (constants.STRESS_CORTISOL_MEDIUM, constants.STRESS_SIZE_MEDIUM),
    (constants.STRESS_CORTISOL_HIGH, constants.STRESS_SIZE_HIGH),
    (constants.HORMONE_MAX, constants.STRESS_SIZE_HIGH),
])
def test_stressed_agent_takes_small_tasks_only(db, sql, cortisol, cap):
    """Big tasks are first in the claim order (higher priority); a stressed agent skips them.

    Completing a task relieves some cortisol, so the test sets the level again before each claim.
    """
    agent, calm = make_agent(db), make_agent(db)
    by_size = {size: make_task(db, now=T0, fibonacci_size=size, priority=min(10, 1 + i)).id for i, size in enumerate(SIZES)}
    taken = []
    while True:
        set_cortisol(sql, agent.id, cortisol)
        task = claim_and_finish(db, agent.id, at(60))
        if task is None:
            break
        taken.append(task.fibonacci_size)
    small = [s for s in sorted(SIZES, reverse=True) if s <= cap]
    assert taken == small  # every small task, biggest first
    assert claim_order(db, calm.id, at(120)) == [by_size[s] for s in sorted(SIZES, reverse=True) if s > cap]


def test_repeated_failures_stress_an_agent_into_small_tasks(db, sql):
    """Three failures raise cortisol from its baseline to STRESS_CORTISOL_HIGH: the agent then takes a
    size-2 task although a size-8 and a size-5 task are ahead of it; a calm agent takes the big one."""
    stressed, calm = make_agent(db, now=T0), make_agent(db, now=T0)
    for i in range(3):
        doomed = make_task(db, now=at(i), max_attempts=1, title=f"doomed {i}")
        claim = lifecycle.claim(db, stressed.id, now=at(10 + i))
        assert claim.id == doomed.id
        lifecycle.fail(db, doomed.id, stressed.id, claim.attempt, "it broke", now=at(10 + i))
    cortisol = sql.execute("SELECT (hormone_levels ->> 'cortisol')::float8 AS c FROM phoenix.agents WHERE id = %s",
                           (stressed.id,)).fetchone()["c"]
    assert cortisol == pytest.approx(constants.BASELINE_CORTISOL + 3 * constants.CORTISOL_PER_FAILURE)
    assert cortisol >= constants.STRESS_CORTISOL_HIGH

    big = make_task(db, now=at(60), fibonacci_size=8, priority=10)
    medium = make_task(db, now=at(60), fibonacci_size=5, priority=8)
    small = make_task(db, now=at(60), fibonacci_size=2, priority=1)
    taken = lifecycle.claim(db, stressed.id, now=at(120))
    assert taken.id == small.id
    assert lifecycle.claim(db, calm.id, now=at(120)).id == big.id
    assert lifecycle.get(db, medium.id).status == "open"
