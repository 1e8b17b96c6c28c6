"""Comments with an idempotency key (issue 12, the comment half of point 10): a client that
retries a comment after a lost reply posts it once; the key is the author's own; a key reused
for different content is refused in one line and writes nothing. Through the Python API, the
SQL function as an agent-role login calls it (the command line: tests/cli/test_comment_keys_cli.py)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import agents, comments, errors, lifecycle
from tests.board.conftest import ROLES, as_agent
from tests.conftest import login, snapshot


@pytest.fixture
def board(db):
    author, _ = agents.register(db, {"codename": "author-1", "team": "iota"})
    other, _ = agents.register(db, {"codename": "other-1", "team": "iota"})
    task, _ = lifecycle.submit(db, {"title": "discuss", "team": "iota"})
    second, _ = lifecycle.submit(db, {"title": "elsewhere", "team": "iota"})
    return author, other, task, second


def test_a_retried_comment_with_its_key_is_posted_once(db, sql, board):
    author, _, task, _ = board
    first = comments.add(db, task.id, author.id, "I can take it", idempotency_key="c-1")
    again = comments.add(db, task.id, author.id, "I can take it", idempotency_key="c-1")  # the lost reply's retry
    assert again["id"] == first["id"]
    assert [c["content"] for c in comments.thread(db, task.id)] == ["I can take it"]
    assert lifecycle.get(db, task.id).comment_count == 1
    # a reply with a key, retried, is one reply too
    reply = comments.add(db, task.id, author.id, "done", parent=first["id"], idempotency_key="c-2")
    assert comments.add(db, task.id, author.id, "done", parent=first["id"], idempotency_key="c-2")["id"] == reply["id"]
    # without a key, two calls are two comments, as before
    comments.add(db, task.id, author.id, "+1")
    comments.add(db, task.id, author.id, "+1")
    assert lifecycle.get(db, task.id).comment_count == 4


def test_a_key_reused_for_different_content_is_refused_and_writes_nothing(db, sql, board):
    author, _, task, second = board
    first = comments.add(db, task.id, author.id, "I can take it", idempotency_key="c-1")
    before = snapshot(sql)
    for kwargs in ({"task": task.id, "content": "something else"},
                   {"task": second.id, "content": "I can take it"},
                   {"task": task.id, "content": "I can take it", "parent": first["id"]}):
        where, content = kwargs.pop("task"), kwargs.pop("content")
        with pytest.raises(errors.Conflict) as refused:
            comments.add(db, where, author.id, content, **kwargs, idempotency_key="c-1")
        assert refused.value.message == ("idempotency key c-1 was already used for a different comment; "
                                         "use a new key for new content")
    assert snapshot(sql) == before
    with pytest.raises(errors.InvalidInput, match="idempotency_key must be 1-200 characters"):
        comments.add(db, task.id, author.id, "x", idempotency_key="k" * 201)
    assert snapshot(sql) == before


def test_keys_belong_to_their_author(db, board):
    author, other, task, _ = board
    mine = comments.add(db, task.id, author.id, "same words", idempotency_key="shared")
    theirs = comments.add(db, task.id, other.id, "other words", idempotency_key="shared")
    assert theirs["id"] != mine["id"]
    assert [c["codename"] for c in comments.thread(db, task.id)] == ["author-1", "other-1"]


def test_the_agent_role_gets_the_same_through_sql(sql, url, db, board):
    """The rule lives in the database: an agent-role login calling the function itself posts once too."""
    author, _, task, _ = board
    call = "SELECT id FROM phoenix.comment_add(%s, %s, NULL, %s, NULL, %s)"
    for login_url in login(sql, url, ROLES["agent"]):
        with psycopg.connect(login_url, autocommit=True, row_factory=dict_row) as conn:
            first = as_agent(conn, author.id, call, (task.id, author.id, "from SQL", "sql-1"))["id"]
            assert as_agent(conn, author.id, call, (task.id, author.id, "from SQL", "sql-1"))["id"] == first
            with pytest.raises(psycopg.Error, match="already used for a different comment"):
                as_agent(conn, author.id, call, (task.id, author.id, "changed", "sql-1"))
    assert lifecycle.get(db, task.id).comment_count == 1
