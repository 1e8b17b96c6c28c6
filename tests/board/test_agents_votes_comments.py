"""Agents, votes and comments: behaviour and refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import agents, comments, constants, errors, hormones, lifecycle, votes
from tests.conftest import make_agent, make_task, snapshot

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_register_reattaches_by_codename(db):
    first, created = agents.register(db, {"codename": "worker-1", "team": "iota", "specialization": ["sql"]})
    again, created_again = agents.register(db, {"codename": "worker-1", "team": "iota"})
    assert created and not created_again and again.id == first.id
    assert again.specialization == ["sql"]


def test_register_refusals(db, sql):
    before = snapshot(sql)
    with pytest.raises(errors.NotFound, match="team nowhere not found"):
        agents.register(db, {"codename": "x", "team": "nowhere"})
    with pytest.raises(errors.InvalidInput, match="codename"):
        agents.register(db, {"codename": "bad name!", "team": "iota"})
    assert snapshot(sql) == before
    agents.register(db, {"codename": "w", "team": "iota"})
    with pytest.raises(errors.Conflict, match="registered on team iota"):
        agents.register(db, {"codename": "w", "team": "alpha_delta"})


def test_decommission_releases_claim_and_blocks_actions(db):
    a = make_agent(db)
    task = make_task(db)
    lifecycle.claim(db, a.id)
    gone = agents.decommission(db, a.id)
    assert gone.decommissioned_at is not None and gone.current_task is None
    assert lifecycle.get(db, task.id).status == "open"
    with pytest.raises(errors.Forbidden, match="decommissioned"):
        lifecycle.claim(db, a.id)
    other = make_task(db)
    with pytest.raises(errors.Forbidden):
        votes.vote(db, other.id, a.id, 1)
    back, created = agents.register(db, {"codename": a.codename, "team": a.team})
    assert not created and back.decommissioned_at is None


def test_resolve_by_codename_or_id(db):
    a = make_agent(db, codename="finder")
    assert agents.resolve(db, "finder") == a.id
    assert agents.resolve(db, str(a.id)) == a.id
    with pytest.raises(errors.NotFound, match="'nobody' not found"):
        agents.resolve(db, "nobody")


def test_vote_change_of_mind_and_retract(db, sql):
    author, voter = make_agent(db), make_agent(db)
    task = make_task(db, created_by=str(author.id))
    r = votes.vote(db, task.id, voter.id, 1)
    assert (r["upvotes"], r["downvotes"], r["previous"]) == (1, 0, 0)
    r = votes.vote(db, task.id, voter.id, -1)
    assert (r["upvotes"], r["downvotes"], r["previous"]) == (0, 1, 1)
    r = votes.vote(db, task.id, voter.id, -1)  # same vote again: no change
    assert (r["upvotes"], r["downvotes"], r["previous"]) == (0, 1, -1)
    r = votes.vote(db, task.id, voter.id, 0)
    assert (r["upvotes"], r["downvotes"]) == (0, 0)
    assert sql.execute("SELECT count(*) AS n FROM phoenix.task_votes").fetchone()["n"] == 0
    h = sql.execute("SELECT hormone_levels FROM phoenix.agents WHERE id = %s", (author.id,)).fetchone()["hormone_levels"]
    assert h["oxytocin"] == pytest.approx(constants.BASELINE_OXYTOCIN + constants.OXYTOCIN_PER_UPVOTE)
    assert h["cortisol"] == pytest.approx(constants.BASELINE_CORTISOL + constants.CORTISOL_PER_DOWNVOTE)


def test_vote_updates_hot_score_and_claim_key(db, sql):
    voter = make_agent(db)
    task = make_task(db, now=T0)
    votes.vote(db, task.id, voter.id, 1, now=T0 + timedelta(hours=1))
    row = sql.execute(
        "SELECT hot_score, claim_key, phoenix.hot_rank(1, created_at, %s) AS expected,"
        " phoenix.claim_key(available_at, priority, hot_score, deadline) AS key FROM phoenix.tasks WHERE id = %s",
        (T0 + timedelta(hours=1), task.id)).fetchone()
    assert row["hot_score"] == row["expected"] > 0
    assert row["claim_key"] == row["key"] < task.claim_key


def test_vote_refusals_write_nothing(db, sql):
    author, claimant = make_agent(db), make_agent(db)
    task = make_task(db, created_by=str(author.id))
    lifecycle.claim(db, claimant.id)
    before = snapshot(sql)
    with pytest.raises(errors.SelfVote):
        votes.vote(db, task.id, author.id, 1)
    with pytest.raises(errors.SelfVote):
        votes.vote(db, task.id, claimant.id, 1)
    with pytest.raises(errors.InvalidInput, match="value"):
        votes.vote(db, task.id, make_agent(db).id, 2)
    before = snapshot(sql)
    with pytest.raises(errors.NotFound, match="task .* not found"):
        votes.vote(db, uuid.uuid4(), claimant.id, 1)
    with pytest.raises(errors.NotFound, match="agent .* not found"):
        votes.vote(db, task.id, uuid.uuid4(), 1)
    assert snapshot(sql) == before


def test_threaded_comments_and_comment_votes(db):
    a, b = make_agent(db), make_agent(db)
    task = make_task(db, now=T0)
    top = comments.add(db, task.id, a.id, "first", now=T0 + timedelta(minutes=1))
    reply = comments.add(db, task.id, b.id, "reply", parent=top["id"], now=T0 + timedelta(minutes=2))
    second = comments.add(db, task.id, b.id, "second", now=T0 + timedelta(minutes=3))
    assert reply["depth"] == 1
    assert [c["content"] for c in comments.thread(db, task.id)] == ["first", "reply", "second"]
    t = lifecycle.get(db, task.id)
    assert t.comment_count == 3
    # Lemmy's rank is 0 at the instant of activity; the next refresh ranks the task as active
    from phoenix_board.board import ranking

    ranking.refresh_hot_scores(db, now=T0 + timedelta(minutes=10))
    after = lifecycle.get(db, task.id)
    assert after.active_score > after.hot_score > 0
    r = votes.comment_vote(db, top["id"], b.id, 1)
    assert (r["upvotes"], r["downvotes"]) == (1, 0)
    with pytest.raises(errors.SelfVote):
        votes.comment_vote(db, top["id"], a.id, 1)
    assert second["depth"] == 0


def test_comment_refusals(db, sql):
    a = make_agent(db)
    task, other = make_task(db), make_task(db)
    foreign = comments.add(db, other.id, a.id, "elsewhere")
    before = snapshot(sql)
    with pytest.raises(errors.NotFound, match="same task"):
        comments.add(db, task.id, a.id, "x", parent=foreign["id"])
    with pytest.raises(errors.InvalidInput):
        comments.add(db, task.id, a.id, "")
    with pytest.raises(errors.InvalidInput):
        comments.add(db, task.id, a.id, "x" * (constants.COMMENT_MAX + 1))
    assert snapshot(sql) == before
    parent = comments.add(db, task.id, a.id, "level 0")
    for _ in range(constants.COMMENT_DEPTH_MAX):
        parent = comments.add(db, task.id, a.id, "deeper", parent=parent["id"])
    before = snapshot(sql)
    with pytest.raises(errors.InvalidInput, match="too deep"):
        comments.add(db, task.id, a.id, "too deep", parent=parent["id"])
    assert snapshot(sql) == before


def test_hormone_decay_toward_baseline(db, sql):
    a = make_agent(db, now=T0)
    sql.execute("""UPDATE phoenix.agents SET hormone_levels = '{"dopamine": 3.0, "oxytocin": 1.0, "adrenaline": 0.0,
                   "cortisol": 2.3}', hormones_at = %s WHERE id = %s""", (T0, a.id))
    half = 600.0
    assert hormones.decay_all(db, half, now=T0 + timedelta(seconds=half)) == 1
    h = sql.execute("SELECT hormone_levels FROM phoenix.agents WHERE id = %s", (a.id,)).fetchone()["hormone_levels"]
    assert h == {"dopamine": 2.0, "oxytocin": 1.0, "adrenaline": 0.5, "cortisol": 1.3}
    hormones.decay_all(db, half, now=T0 + timedelta(seconds=2 * half))
    h = sql.execute("SELECT hormone_levels FROM phoenix.agents WHERE id = %s", (a.id,)).fetchone()["hormone_levels"]
    assert h == {"dopamine": 1.5, "oxytocin": 1.0, "adrenaline": 0.75, "cortisol": 0.8}
    with pytest.raises(errors.InvalidInput):
        hormones.decay_all(db, 0)


def test_fibonacci_levels(db):
    from phoenix_board.board import performance

    assert [performance.fibonacci_level(db, n) for n in (0, 1, 2, 3, 4, 5, 7, 8, 13, 20, 21)] == [
        1, 2, 3, 4, 4, 5, 5, 6, 7, 7, 8]
