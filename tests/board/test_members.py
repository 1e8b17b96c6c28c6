"""Members (board/members.py; docs/concepts/review.md#members): people who take part. A member votes,
comments and reviews through the agents' rules, never claims, counts in no agents' figure, and a
task that asks for a person is not decided without a member's verdict nor failed before
REVIEW_PERSON_EXPIRE_SECONDS."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import agents, comments, constants, errors, lifecycle, members, votes
from tests.conftest import make_agent, make_task, snapshot


def in_review(db, executor, now=None, **task):
    t = make_task(db, now=now, team=executor.team, review_quorum=task.pop("review_quorum", 1), **task)
    claim = lifecycle.claim(db, executor.id, now=now)
    assert claim is not None and claim.id == t.id
    return lifecycle.result(db, t.id, executor.id, claim.attempt, {"done": True}, 0.9, now=now)


# --- the register -------------------------------------------------------------------------------


@pytest.mark.rolled_back
def test_add_list_remove_and_add_again(db):
    ada, created = members.add(db, "ada", "alpha_delta")
    assert created and ada.kind == "member" and ada.team == "alpha_delta"
    again, created = members.add(db, "ada", "alpha_delta")
    assert not created and again.id == ada.id
    make_agent(db, codename="bot-1")
    assert [m.codename for m in members.list_members(db)] == ["ada"]
    assert "ada" not in [a.codename for a in agents.list_agents(db)]  # the agents' list leaves people out
    removed = members.remove(db, "ada")
    assert removed.decommissioned_at is not None and members.list_members(db) == []
    assert [m.codename for m in members.list_members(db, include_removed=True)] == ["ada"]
    back, created = members.add(db, "ada", "alpha_delta")
    assert not created and back.id == ada.id and back.decommissioned_at is None


@pytest.mark.rolled_back
def test_bad_adds_are_refused_with_one_line_and_change_nothing(db, sql):
    make_agent(db, codename="bot-1")
    members.add(db, "ada", "alpha_delta")
    before = snapshot(sql)
    for args, kind, says in [
        (("bot-1", "alpha_delta"), errors.Conflict, "agent's codename"),
        (("ada", "iota"), errors.Conflict, "is on team alpha_delta"),
        (("eve", "no_such_team"), errors.NotFound, "team no_such_team not found"),
        (("bad name", "alpha_delta"), errors.InvalidInput, "codename"),
    ]:
        with pytest.raises(kind, match=says) as info:
            members.add(db, *args)
        assert len(str(info.value).splitlines()) == 1
    with pytest.raises(errors.NotFound, match="is an agent, not a member"):
        members.remove(db, "bot-1")
    assert snapshot(sql) == before


@pytest.mark.rolled_back
def test_a_member_never_claims_and_no_pool_attaches_to_it(db, sql):
    ada, _ = members.add(db, "ada", "alpha_delta")
    executor = make_agent(db)
    in_review(db, executor, review_quorum=1)
    make_task(db, team="alpha_delta")
    before = snapshot(sql)
    with pytest.raises(errors.Forbidden, match="is a member .* never claim"):
        lifecycle.claim(db, ada.id)
    with pytest.raises(errors.Forbidden, match="is a member"):
        lifecycle.claim_start(db, ada.id)
    with pytest.raises(errors.Forbidden, match="claim no place"):
        lifecycle.review_claim(db, ada.id)
    with pytest.raises(errors.Conflict, match="is a member"):
        agents.register(db, {"codename": "ada", "team": "alpha_delta"})
    assert snapshot(sql) == before


@pytest.mark.rolled_back
def test_a_member_votes_comments_replies_and_votes_on_comments(db):
    ada, _ = members.add(db, "ada", "iota")  # of another team: people follow the whole board
    bot = make_agent(db)
    task = make_task(db, created_by=bot.id)
    assert votes.vote(db, task.id, ada.id, 1)["upvotes"] == 1
    top = comments.add(db, task.id, bot.id, "first")
    reply = comments.add(db, task.id, ada.id, "a reply", top["id"])
    assert reply["depth"] == 1
    assert votes.comment_vote(db, top["id"], ada.id, 1)["upvotes"] == 1


# --- review --------------------------------------------------------------------------------------


@pytest.mark.rolled_back
def test_a_members_verdict_counts_weighted_by_its_trust(db, sql):
    ada, _ = members.add(db, "ada", "iota")
    executor = make_agent(db)
    task = in_review(db, executor, review_quorum=1)
    done, decided = members.review(db, task.id, "ada", 1, "looks right")
    assert decided == "approved" and done.status == "complete"
    row = sql.execute("SELECT weight FROM phoenix.task_reviews WHERE task_id = %s AND agent_id = %s",
                      (task.id, ada.id)).fetchone()
    assert row["weight"] == pytest.approx(ada.trust_coefficient)
    # the consensus rated the member as it rates agents
    assert sql.execute("SELECT count(*) AS n FROM phoenix.agent_interactions WHERE agent_to = %s "
                       "AND interaction_type = 'consensus'", (ada.id,)).fetchone()["n"] == 1


@pytest.mark.rolled_back
def test_a_member_cannot_review_a_task_it_submitted(db, sql):
    ada, _ = members.add(db, "ada", "alpha_delta")
    executor = make_agent(db)
    task = in_review(db, executor, created_by=ada.id)
    before = snapshot(sql)
    with pytest.raises(errors.Forbidden, match="it submitted it") as info:
        members.review(db, task.id, "ada", 1)
    assert len(str(info.value).splitlines()) == 1
    assert snapshot(sql) == before


@pytest.mark.rolled_back
def test_needs_person_waits_for_a_member_then_decides(db):
    executor, peer1, peer2 = (make_agent(db) for _ in range(3))
    ada, _ = members.add(db, "ada", "iota")
    task = in_review(db, executor, review_quorum=2, needs_person=True)
    assert task.needs_person
    assert [w["id"] for w in members.waiting(db)] == [task.id]
    # agents' verdicts count, but two of them meet the quorum without deciding it
    for peer in (peer1, peer2):
        lifecycle.review_claim(db, peer.id)
        _, decided = lifecycle.review(db, task.id, peer.id, 1)
        assert decided is None
    # no third agent place is offered: the task waits for a person, not for more agents
    extra = make_agent(db)
    assert lifecycle.review_claim(db, extra.id) is None
    waiting = members.waiting(db)
    assert [w["id"] for w in waiting] == [task.id] and waiting[0]["verdicts"] == 2
    done, decided = members.review(db, task.id, ada.id, 1)
    assert decided == "approved" and done.status == "complete"
    assert members.waiting(db) == []


@pytest.mark.rolled_back
def test_needs_person_rejection_also_waits_for_a_member(db):
    executor, peer = make_agent(db), make_agent(db)
    members.add(db, "ada", "alpha_delta")
    task = in_review(db, executor, review_quorum=1, needs_person=True)
    _, decided = lifecycle.review(db, task.id, peer.id, -1)
    assert decided is None and lifecycle.get(db, task.id).status == "review"
    reopened, decided = members.review(db, task.id, "ada", -1, "wrong total")
    assert decided == "rejected" and reopened.status == "open"


@pytest.mark.rolled_back
def test_needs_person_without_a_quorum_still_goes_to_review(db):
    executor = make_agent(db)
    members.add(db, "ada", "alpha_delta")
    task = make_task(db, needs_person=True)  # review_quorum left at 0
    assert task.review_quorum == 1
    claim = lifecycle.claim(db, executor.id)
    assert lifecycle.result(db, claim.id, executor.id, claim.attempt).status == "review"
    assert members.review(db, task.id, "ada", 1)[1] == "approved"


@pytest.mark.rolled_back
def test_needs_person_must_be_a_boolean(db, sql):
    before = snapshot(sql)
    with pytest.raises(errors.InvalidInput, match="needs_person") as info:
        make_task(db, needs_person="yes")
    assert len(str(info.value).splitlines()) == 1
    assert snapshot(sql) == before


@pytest.mark.rolled_back
def test_a_task_waiting_for_a_person_outlives_the_review_deadline(db):
    t0 = datetime.now(UTC) - timedelta(days=30)
    executor = make_agent(db, now=t0)
    plain = in_review(db, executor, now=t0, review_quorum=1)
    person = in_review(db, executor, now=t0, review_quorum=1, needs_person=True)
    later = t0 + timedelta(seconds=constants.REVIEW_EXPIRE_SECONDS)
    assert [t.id for t in lifecycle.review_expire(db, now=later)] == [plain.id]
    just_before = t0 + timedelta(seconds=constants.REVIEW_PERSON_EXPIRE_SECONDS - 1)
    assert lifecycle.review_expire(db, now=just_before) == []
    ended = lifecycle.review_expire(db, now=t0 + timedelta(seconds=constants.REVIEW_PERSON_EXPIRE_SECONDS))
    assert [t.id for t in ended] == [person.id]
    assert "no member reviewed it" in ended[0].last_error


def test_a_member_and_agents_reviewing_at_once_decide_once(db, sql):
    """Three agents and two members give their verdicts on one needs-person task at the same
    moment: it is decided exactly once, after a member's verdict, and every verdict is stored once."""
    executor = make_agent(db)
    peers = [make_agent(db) for _ in range(3)]
    people = [members.add(db, f"person-{i}", "iota")[0] for i in range(2)]
    task = in_review(db, executor, review_quorum=3, needs_person=True)
    start = threading.Barrier(len(peers) + len(people))
    outcomes: list[object] = []

    def give(reviewer_id):
        start.wait()
        try:
            outcomes.append(lifecycle.review(db, task.id, reviewer_id, 1)[1])
        except errors.BoardError as exc:  # the task was decided before this verdict
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=give, args=(r.id,)) for r in peers + people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1
    assert lifecycle.get(db, task.id).status == "complete"
    rows = sql.execute("SELECT r.agent_id, a.kind FROM phoenix.task_reviews r JOIN phoenix.agents a ON a.id = r.agent_id "
                       "WHERE r.task_id = %s ORDER BY r.at", (task.id,)).fetchall()
    assert len(rows) == len({r["agent_id"] for r in rows})
    assert any(r["kind"] == "member" for r in rows)  # it was not decided without a person
    assert sql.execute("SELECT count(*) AS n FROM phoenix.task_events WHERE task_id = %s AND kind = 'completed'",
                       (task.id,)).fetchone()["n"] == 1


@pytest.mark.rolled_back
def test_members_have_no_partners_supervisors_or_cascades(db, sql):
    from phoenix_board.board import federation

    ada, _ = members.add(db, "ada", "iota")
    bot = make_agent(db, team="iota")
    before = snapshot(sql)
    for call, says in [(lambda: federation.pair(db, ada.id, bot.id), "no partners"),
                       (lambda: federation.supervise(db, bot.id, ada.id), "neither supervise"),
                       (lambda: federation.cascade(db, "dopamine", 0.5, agent=str(ada.id)), "no hormones")]:
        with pytest.raises(errors.InvalidInput, match=says) as info:
            call()
        assert len(str(info.value).splitlines()) == 1
    assert snapshot(sql) == before
    federation.cascade(db, "dopamine", 0.5, team="iota")  # the team's agents, not its people
    assert members.get(db, "ada").hormone_levels == ada.hormone_levels
