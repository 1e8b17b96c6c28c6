"""Many submissions in one transaction (``lifecycle.submit_many``, the queue's batched path): each
keeps its own idempotency and its own refusal, and the batch commits once."""

from __future__ import annotations

from phoenix_board.board import errors, lifecycle
from tests.conftest import make_agent


def test_a_refused_submission_is_undone_alone_and_the_others_commit_together(db, sql):
    author = make_agent(db, team="iota")
    out = lifecycle.submit_many(db, [
        ({"title": "first", "team": "iota", "created_by": author.id, "idempotency_key": "b-1"}, author.id),
        ({"title": "nowhere", "team": "no_such_team"}, None),          # refused by the database
        ({"title": "", "team": "iota"}, None),                          # refused before it
        ({"title": "second", "team": "iota"}, None),
    ])
    assert [type(o).__name__ if isinstance(o, errors.BoardError) else o[1] for o in out] == \
        [True, "NotFound", "InvalidInput", True]
    assert "no_such_team" in out[1].message
    first, second = out[0][0], out[3][0]
    assert (first.title, first.created_by, second.title) == ("first", author.id, "second")
    rows = sql.execute("SELECT title, created_at FROM phoenix.tasks ORDER BY title").fetchall()
    assert [r["title"] for r in rows] == ["first", "second"]          # nothing of the refused ones
    # one transaction for the batch: now() is its start, the same for every task it wrote (two
    # transactions a few milliseconds apart would differ in the microseconds)
    assert len({r["created_at"] for r in rows}) == 1
    events = sql.execute("SELECT count(*) AS n FROM phoenix.task_events").fetchone()["n"]
    assert events == 2


def test_each_submission_keeps_its_idempotency_key(db, sql):
    spec = {"title": "once", "team": "iota", "idempotency_key": "k-1"}
    (first, created), = lifecycle.submit_many(db, [(spec, None)])
    again = lifecycle.submit_many(db, [(spec, None), (dict(spec, idempotency_key="k-2"), None), (spec, None)])
    assert created
    assert [(t.id == first.id, c) for t, c in again] == [(True, False), (False, True), (True, False)]
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"] == 2


def test_an_empty_batch_writes_nothing(db, sql):
    assert lifecycle.submit_many(db, []) == []
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"] == 0
