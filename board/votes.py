"""Votes on tasks and on comments: +1, -1, or 0 to retract.

One vote per agent per task (and per comment). A change of mind moves the counts relatively and
the task row is locked first, so the counts always equal the vote rows, however many agents vote
at once. Nobody votes on their own task (author or claimant) or comment. Board votes rank the
task (hot score, controversy, claim order) and touch the author's hormones; trust moves only
through review verdicts, which judge work (see trust.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from phoenix_board.board import models
from phoenix_board.board.db import Database


def vote(db: Database, task: UUID, agent: UUID, value: int, reason: str | None = None,
         now: datetime | None = None) -> dict[str, Any]:
    """Returns the task's new counts and this agent's previous vote."""
    v = models.parse(models.Vote, {"value": value, "reason": reason})
    return db.one("task_vote", task=models.uuid_arg(task, "task"), agent=models.uuid_arg(agent, "agent"),
                  vote=v.value, reason=v.reason, now=now)


def comment_vote(db: Database, comment: UUID, agent: UUID, value: int, now: datetime | None = None) -> dict[str, Any]:
    v = models.parse(models.Vote, {"value": value})
    return db.one("comment_vote", comment=models.uuid_arg(comment, "comment"), agent=models.uuid_arg(agent, "agent"),
                  vote=v.value, now=now)


def votes_for(db: Database, task: UUID) -> list[dict[str, Any]]:
    return db.all("task_votes_for", task=models.uuid_arg(task, "task"))


def reviews_for(db: Database, task: UUID) -> list[dict[str, Any]]:
    return db.all("task_reviews_for", task=models.uuid_arg(task, "task"))
