"""A small board in every state a hostile call could aim at, and the check every refusal must pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from phoenix_board.board import comments, constants, errors, lifecycle, models
from tests.factories import make_agent, make_task, snapshot
from tests.workers.conftest import client, env, pools, valkey  # noqa: F401  (fixtures: real broker and workers)

MESSAGE_MAX = constants.ERROR_MESSAGE_MAX


def assert_one_line(message: str) -> None:
    assert message, "an error without a message"
    assert message.splitlines() == [message], repr(message[:200])
    assert len(message) <= MESSAGE_MAX, len(message)
    message.encode("utf-8")  # printable: no lone surrogate quoted from the input


def refused(sql: Any, call: Callable[..., Any], *args: Any, **kwargs: Any) -> errors.BoardError:
    """Calls the board; it must raise a BoardError (no other kind) in one line and write nothing."""
    before = snapshot(sql)
    with pytest.raises(errors.BoardError) as info:
        call(*args, **kwargs)
    assert_one_line(info.value.message)
    assert str(info.value) == info.value.message
    assert snapshot(sql) == before
    return info.value


@dataclass(frozen=True, repr=False)
class World:
    author: models.Agent  # wrote every task and the comments
    worker: models.Agent  # holds the claim on `claimed` (attempt 1)
    finisher: models.Agent  # executed `in_review`
    reviewer: models.Agent  # free: may review, vote, comment
    open: models.Task
    claimed: models.Task
    in_review: models.Task
    comment: dict[str, Any]  # top-level comment on `open`, by author
    deepest: dict[str, Any]  # a reply at COMMENT_DEPTH_MAX under it: no reply may go deeper

    def __repr__(self) -> str:  # hypothesis prints it with every failing example
        return "World()"


@pytest.fixture
def world(db) -> World:
    author, worker, finisher, reviewer = (make_agent(db, team="iota", codename=f"fuzz-{n}")
                                          for n in ("author", "worker", "finisher", "reviewer"))
    in_review = make_task(db, team="iota", created_by=author.id, review_quorum=1, payload={"k": [1, "two"]})
    got = lifecycle.claim(db, finisher.id)
    assert got is not None and got.id == in_review.id
    in_review = lifecycle.result(db, in_review.id, finisher.id, 1, {"done": True}, 0.9)
    claimed = make_task(db, team="iota", created_by=author.id)
    assert lifecycle.claim(db, worker.id).id == claimed.id
    open_task = make_task(db, team="iota", created_by=author.id, depends_on=[claimed.id], priority=1)
    top = comments.add(db, open_task.id, author.id, "top")
    deepest = top
    for _ in range(constants.COMMENT_DEPTH_MAX):
        deepest = comments.add(db, open_task.id, author.id, "reply", parent=deepest["id"])
    return World(author, worker, finisher, reviewer, lifecycle.get(db, open_task.id), lifecycle.get(db, claimed.id),
                 lifecycle.get(db, in_review.id), top, deepest)
