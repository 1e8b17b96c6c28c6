"""Reviews as work on the board (docs/concepts/review.md): who may review (the agents that may see the
task, tried as the agent role), review places claimed with a lease and re-offered when it runs out,
the pool that widens after REVIEW_WIDEN_SECONDS, the deadline that ends a task nobody reviewed, and
the warning at submission when the quorum cannot be met."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.conninfo import make_conninfo

from phoenix_board.board import constants, errors, lifecycle, migrate
from phoenix_board.board.db import Database, acting_as
from tests.conftest import make_agent, make_task, snapshot

ROLES = migrate.role_names()
LEASE = constants.LEASE_SECONDS


@pytest.fixture
def agent_db(sql, url) -> Iterator[Database]:
    """A login that is a member of the agent role, as worker pools connect in production."""
    name = f"pbt_reviewer_{uuid.uuid4().hex[:8]}"
    sql.execute(f"CREATE ROLE {name} LOGIN IN ROLE {ROLES['agent']}")
    try:
        with Database(make_conninfo(url, user=name), max_size=2, name="phoenix-test-agent") as db:
            yield db
    finally:
        sql.execute(f"DROP ROLE IF EXISTS {name}")


def in_review(db, executor, now=None, **task):
    """A task of the executor's team, claimed and submitted for review (at ``now``)."""
    t = make_task(db, now=now, team=executor.team, review_quorum=task.pop("review_quorum", 1), **task)
    claim = lifecycle.claim(db, executor.id, now=now)
    assert claim is not None and claim.id == t.id
    return lifecycle.result(db, t.id, executor.id, claim.attempt, {"done": True}, 0.9, now=now)


# --- who may review: the agents that may see the task (issue 12.7) ----------------------------


def test_an_agent_that_cannot_see_a_task_cannot_review_it(agent_db, db, sql):
    executor = make_agent(db, team="alpha_delta")
    outsider = make_agent(db, team="iota")
    task = in_review(db, executor, category="content")
    before = snapshot(sql)
    with acting_as(outsider.id):
        with pytest.raises(errors.NotFound):  # row-level security: it does not see the task
            lifecycle.get(agent_db, task.id)
        with pytest.raises(errors.Forbidden, match="may not review task") as info:
            lifecycle.review(agent_db, task.id, outsider.id, -1)
    assert len(str(info.value).splitlines()) == 1
    assert snapshot(sql) == before  # its -1 reopened nothing and rated nobody
    assert lifecycle.get(db, task.id).status == "review"


def test_a_specialist_of_another_team_sees_and_reviews(agent_db, db):
    executor = make_agent(db, team="alpha_delta")
    specialist = make_agent(db, team="iota", specialization=["content"])
    task = in_review(db, executor, category="content")
    with acting_as(specialist.id):
        assert lifecycle.get(agent_db, task.id).status == "review"
        done, decided = lifecycle.review(agent_db, task.id, specialist.id, 1)
    assert decided == "approved" and done.status == "complete"


# --- review places, claimed with a lease (issue 11.9) -----------------------------------------


@pytest.mark.rolled_back
def test_review_places_are_claimed_once_and_reoffered_when_the_lease_ends(db, sql):
    t0 = datetime.now(UTC)
    executor, p1, p2, p3 = (make_agent(db) for _ in range(4))
    make_agent(db, team="iota")  # may not review alpha_delta's work, so is never offered it
    task = in_review(db, executor, review_quorum=2, now=t0)

    assert lifecycle.review_claim(db, p1.id, now=t0).id == task.id
    assert lifecycle.review_claim(db, p1.id, now=t0) is None  # it holds its place already
    assert lifecycle.review_claim(db, p2.id, now=t0).id == task.id
    assert lifecycle.review_claim(db, p3.id, now=t0) is None  # both places are taken
    assert lifecycle.review_claim(db, executor.id, now=t0) is None  # never the executor's own work

    # p1 gives its verdict; p2 dies holding its place: when its lease ends, p3 takes the place
    lifecycle.review(db, task.id, p1.id, 1, now=t0)
    later = t0 + timedelta(seconds=LEASE + 1)
    assert lifecycle.review_claim(db, p1.id, now=later) is None  # it reviewed this attempt
    assert lifecycle.review_claim(db, p3.id, now=later).id == task.id
    done, decided = lifecycle.review(db, task.id, p3.id, 1, now=later)
    assert decided == "approved" and done.status == "complete"
    assert sql.execute("SELECT count(*) AS n FROM phoenix.review_assignments").fetchone()["n"] == 0


def test_the_agent_role_claims_reviews_and_counts_them(agent_db, db):
    executor, peer = make_agent(db), make_agent(db)
    task = in_review(db, executor)
    assert agent_db.one("reviews_claimable_count", team="alpha_delta")["n"] == 1
    assert agent_db.one("reviews_claimable_count", team="iota")["n"] == 0
    with acting_as(peer.id):
        assert lifecycle.review_claim(agent_db, peer.id).id == task.id
        assert agent_db.one("reviews_claimable_count", team="alpha_delta")["n"] == 0  # its one place is taken
        with pytest.raises(errors.Forbidden):  # acting for another agent
            lifecycle.review_claim(agent_db, executor.id)


@pytest.mark.rolled_back
def test_a_pair_that_approved_leaves_one_place_for_an_outsider(db):
    t0 = datetime.now(UTC)
    executor, partner, other = make_agent(db), make_agent(db), make_agent(db)
    db.one("agent_pair", a=executor.id, b=partner.id, now=None)
    task = in_review(db, executor, review_quorum=1, now=t0)
    assert lifecycle.review_claim(db, partner.id, now=t0).id == task.id
    _, decided = lifecycle.review(db, task.id, partner.id, 1, now=t0)
    assert decided is None  # a pair alone cannot complete it
    assert lifecycle.review_claim(db, partner.id, now=t0) is None
    assert lifecycle.review_claim(db, other.id, now=t0).id == task.id
    assert lifecycle.review(db, task.id, other.id, 1, now=t0)[1] == "approved"


# --- a quorum that cannot be met (issue 11.10) ------------------------------------------------


def test_the_pool_widens_to_every_team_after_the_widening_delay(agent_db, db):
    t0 = datetime.now(UTC) - timedelta(seconds=constants.REVIEW_WIDEN_SECONDS + 60)
    executor = make_agent(db, team="iota")
    outsider = make_agent(db, team="alpha_delta")
    task = in_review(db, executor, category="lead_gen", now=t0)
    assert lifecycle.review_claim(db, outsider.id, now=t0) is None  # not yet
    with acting_as(outsider.id):  # now (the server's clock) it has waited past the delay
        assert lifecycle.get(agent_db, task.id).status == "review"
        assert lifecycle.review_claim(agent_db, outsider.id).id == task.id
        done, decided = lifecycle.review(agent_db, task.id, outsider.id, 1)
    assert decided == "approved" and done.status == "complete"


@pytest.mark.rolled_back
def test_a_task_nobody_reviews_fails_at_the_deadline_with_its_reason(db, sql):
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    executor = make_agent(db, team="iota")
    task = in_review(db, executor, review_quorum=2, now=t0)
    dependent = make_task(db, team="iota", depends_on=[task.id], now=t0)
    assert lifecycle.review_expire(db, now=t0 + timedelta(seconds=constants.REVIEW_EXPIRE_SECONDS - 1)) == []
    ended = lifecycle.review_expire(db, now=t0 + timedelta(seconds=constants.REVIEW_EXPIRE_SECONDS))
    assert [t.id for t in ended] == [task.id]
    after = lifecycle.get(db, task.id)
    assert after.status == "failed" and "review quorum of 2 not reached" in after.last_error
    assert [e["kind"] for e in lifecycle.events(db, task.id)][-1] == "review_expired"
    assert lifecycle.get(db, dependent.id).status == "failed"
    # the executor's work was never judged: it is not rated for it
    rated = sql.execute("SELECT count(*) AS n FROM phoenix.agent_interactions WHERE agent_to = %s AND task_id = %s",
                        (executor.id, task.id)).fetchone()["n"]
    assert rated == 0
    assert lifecycle.review_expire(db, now=t0 + timedelta(days=1)) == []  # once


@pytest.mark.rolled_back
def test_submission_warns_when_the_quorum_cannot_be_met(db):
    make_agent(db, team="iota"), make_agent(db, team="iota")  # 2 agents: the executor and one peer
    short = make_task(db, team="iota", category="lead_gen", review_quorum=2)
    warning = lifecycle.review_shortfall(db, short)
    assert warning is not None and "needs 2 review verdict(s) but only 1 live agent(s)" in warning
    make_agent(db, team="alpha_delta", specialization=["lead_gen"])  # a specialist elsewhere
    assert lifecycle.review_shortfall(db, short) is None
    assert lifecycle.review_shortfall(db, make_task(db, team="iota")) is None  # no review at all
