"""The board's sorts: Lemmy's orders, total tie-breaks and stable keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import comments, errors, models, ranking, votes
from tests.conftest import make_agent, make_task

pytestmark = pytest.mark.rolled_back  # no commit needed: one shared database, rolled back (tests/conftest.py)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def board(db):
    """Twelve tasks with a spread of votes and comments, created a minute apart."""
    voters = [make_agent(db) for _ in range(4)]
    tasks = [make_task(db, now=T0 + timedelta(minutes=i), team="iota" if i % 3 == 0 else "alpha_delta") for i in range(12)]
    plan = {0: [1, 1, 1], 2: [1, -1], 4: [-1, -1], 5: [1, 1, -1, -1], 7: [1], 9: [1, 1]}
    for i, vs in plan.items():
        for voter, v in zip(voters, vs):
            votes.vote(db, tasks[i].id, voter.id, v, now=T0 + timedelta(minutes=20))
    for i in (3, 3, 8):
        comments.add(db, tasks[i].id, voters[0].id, "note", now=T0 + timedelta(minutes=21))
    return tasks


def all_pages(db, sort, limit, **kw):
    rows, cursor, pages = [], None, 0
    while True:
        page, cursor = ranking.page(db, sort, limit=limit, cursor=cursor, **kw)
        rows += page
        pages += 1
        if cursor is None:
            return rows
        assert pages < 100


def expected_order(rows, key):
    return sorted(rows, key=lambda r: (key(r), r["created_at"], r["id"]), reverse=True)


@pytest.mark.parametrize("sort,key", [
    ("hot", lambda r: r["hot_score"]),
    ("active", lambda r: r["active_score"]),
    ("top", lambda r: r["score"]),
    ("controversial", lambda r: r["controversy"]),
    ("most_comments", lambda r: r["comment_count"]),
])
def test_ranked_sorts_match_a_full_sort_on_every_page_size(db, board, sort, key):
    full = all_pages(db, sort, 500)
    assert len(full) == 12
    assert [r["id"] for r in full] == [r["id"] for r in expected_order(full, key)]
    for limit in (1, 2, 5):
        assert [r["id"] for r in all_pages(db, sort, limit)] == [r["id"] for r in full]


def test_new_and_old(db, board):
    new = [r["id"] for r in all_pages(db, "new", 5)]
    assert new == [t.id for t in reversed(board)]
    assert [r["id"] for r in all_pages(db, "old", 5)] == [t.id for t in board]


def test_top_puts_negative_scores_last(db, board):
    scores = [r["score"] for r in all_pages(db, "top", 3)]
    assert scores == sorted(scores, reverse=True) and scores[-1] < 0 < scores[0]


def test_filters_by_team_and_status(db, board):
    rows = all_pages(db, "hot", 2, team="iota")
    assert len(rows) == 4 and {r["team"] for r in rows} == {"iota"}
    agent = make_agent(db)
    from phoenix_board.board import lifecycle

    claimed = lifecycle.claim(db, agent.id, now=T0 + timedelta(hours=1))
    rows = all_pages(db, "new", 5, statuses=["claimed"])
    assert [r["id"] for r in rows] == [claimed.id]


def test_refresh_moves_ranks_with_time(db, board, sql):
    later = T0 + timedelta(days=2)
    assert ranking.refresh_hot_scores(db, now=later, batch=5) == 12
    rows = sql.execute("SELECT hot_score, phoenix.hot_rank(score, created_at, %s) AS expected FROM phoenix.tasks",
                       (later,)).fetchall()
    assert all(r["hot_score"] == r["expected"] for r in rows)
    # outside Lemmy's week the rank is 0 and the rows leave the refresh
    gone = T0 + timedelta(days=8)
    ranking.refresh_hot_scores(db, now=gone)
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks WHERE hot_score > 0").fetchone()["n"] == 0
    assert ranking.refresh_hot_scores(db, now=gone) == 0


def test_bad_listing_input(db):
    with pytest.raises(errors.InvalidInput, match="unknown sort"):
        ranking.page(db, "best")
    with pytest.raises(errors.InvalidInput, match="limit"):
        ranking.page(db, "hot", limit=0)
    with pytest.raises(errors.InvalidInput, match="cursor"):
        ranking.page(db, "hot", cursor="not-a-cursor")
    with pytest.raises(errors.InvalidInput, match="unknown status"):
        ranking.page(db, "hot", statuses=["done"])
    for category in ("Mining", "a\x00b", "", 7):  # the rule a submission is held to, before SQL sees it
        with pytest.raises(errors.InvalidInput) as caught:
            ranking.page(db, "hot", category=category)
        assert str(caught.value).endswith(models.CATEGORY_RULE)
    make_task(db)
    make_task(db)
    _, cursor = ranking.page(db, "new", limit=1)
    with pytest.raises(errors.InvalidInput, match="cursor for sort hot"):
        ranking.page(db, "hot", cursor=cursor)


def test_refresh_rewrites_only_ranks_that_moved(db, board, sql):
    later = T0 + timedelta(days=2)
    ranking.refresh_hot_scores(db, now=later)
    # a minute later no two-day-old rank has moved by 1 %: nothing is rewritten
    assert ranking.refresh_hot_scores(db, now=later + timedelta(minutes=1)) == 0
    rows = sql.execute("SELECT hot_score, phoenix.hot_rank(score, created_at, %s) AS exact FROM phoenix.tasks",
                       (later + timedelta(minutes=1),)).fetchall()
    from phoenix_board.board import constants

    assert all(abs(r["hot_score"] - r["exact"]) <= constants.RANK_REFRESH_TOLERANCE * r["exact"] for r in rows)


def test_hot_rank_estimate_agrees_with_hot_rank(sql):
    """The refresh's float8 pre-filter must agree with the exact rank far inside its 1 % tolerance."""
    rows = sql.execute("""
        SELECT phoenix.hot_rank(s, now() - make_interval(secs => a), now()) AS exact,
               phoenix.hot_rank_estimate(s, now() - make_interval(secs => a), now()) AS estimate
          FROM generate_series(-50, 5000, 37) AS s, generate_series(0, 8 * 86400, 7919) AS a""").fetchall()
    assert len(rows) > 10_000
    for r in rows:
        assert abs(r["estimate"] - r["exact"]) <= 1e-6 * max(r["exact"], 1e-30) or r["exact"] == r["estimate"] == 0
