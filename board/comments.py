"""Threaded comments on tasks. A reply names its parent, which must belong to the same task;
threads nest at most ``constants.COMMENT_DEPTH_MAX`` levels. Commenting bumps the task's
comment count and its "active" rank (Lemmy's active sort)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from phoenix_board.board import models
from phoenix_board.board.db import Database


def add(db: Database, task: UUID, agent: UUID, content: str, parent: UUID | None = None,
        now: datetime | None = None, *, idempotency_key: str | None = None) -> dict[str, Any]:
    """Posts a comment; -> its row. With ``idempotency_key`` (scoped to the author), a retry after
    a lost reply returns the comment the first call posted instead of posting it again, and a key
    reused for different content (task, parent or text) is refused (``Conflict``)."""
    c = models.parse(models.Comment, {"content": content, "parent": parent, "idempotency_key": idempotency_key})
    return db.one("comment_add", task=models.uuid_arg(task, "task"), agent=models.uuid_arg(agent, "agent"),
                  parent=c.parent, content=c.content, now=now, idempotency_key=c.idempotency_key)


def thread(db: Database, task: UUID) -> list[dict[str, Any]]:
    """The task's comments in reading order, each with its depth."""
    return db.all("comments_for", task=models.uuid_arg(task, "task"))
