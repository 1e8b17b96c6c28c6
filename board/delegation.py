"""Delegation: a claimant splits its task into children and the task waits for them.

::

    in_progress --delegate--> waiting --join met--> open (offered to the delegator first) --> ...
                                 |--child failed, 'fail'--> open (escalated to the delegator's
                                 |                          supervisor, once) or failed
                                 +--cancel--> cancelled (with every live descendant)

Each call is one SQL function (``sql/functions/55_delegation.sql``), so one transaction, fenced by
the parent's attempt number. The parent row is the join point: every child's final outcome is
counted on it under its row lock, so exactly one child's transaction finds the join met and puts
the parent back on the board. A tree's root row is locked first by every transition that may
settle, delegate or cancel inside it, which is what makes a cancel see every live descendant.
docs/concepts/delegation.md has the whole model, the limits and the trust rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb

from phoenix_board.board import constants, errors, inputs, models
from phoenix_board.board.db import Database

Join = Literal["all", "any"] | int
OnFailure = Literal["fail", "ignore"]


def join_k(join: Any, n: int) -> int | None:
    """The number of children that must complete: None for all."""
    if join == "all":
        return None
    if join == "any":
        return 1
    if isinstance(join, int) and not isinstance(join, bool) and 1 <= join <= n:
        return join
    raise errors.InvalidInput(f"join must be 'all', 'any' or a number from 1 to {n}, not {inputs.shown(join)}")


def specs(children: Any) -> list[models.ChildSpec]:
    """Validates the children of one delegation."""
    if not isinstance(children, list | tuple) or not children:
        raise errors.InvalidInput("children must be a non-empty list of tasks")
    if len(children) > constants.DELEGATION_CHILDREN_MAX:
        raise errors.InvalidInput(f"{len(children)} children in one delegation; the limit is "
                                  f"{constants.DELEGATION_CHILDREN_MAX}")
    return [models.parse(models.ChildSpec, c) for c in children]


def delegate(db: Database, task: UUID, agent: UUID, attempt: int, children: Any, join: Join = "all",
             on_failure: OnFailure = "fail", now: datetime | None = None) -> tuple[models.Task, list[UUID], int]:
    """Ends the attempt by splitting the task. -> (the parent, its children in order, how many were new)"""
    checked = specs(children)
    if on_failure not in ("fail", "ignore"):
        raise errors.InvalidInput(f"on_failure must be 'fail' or 'ignore', not {inputs.shown(on_failure)}")
    body = [c.model_dump(exclude_none=True, mode="json") for c in checked]
    row = db.one("task_delegate", task=models.uuid_arg(task, "task"), agent=models.uuid_arg(agent, "agent"),
                 attempt=models.whole_arg(attempt, "attempt", 0, constants.ATTEMPT_MAX),
                 children=Jsonb(body), join_k=join_k(join, len(body)), on_failure=on_failure, now=now)
    return models.Task.from_row(row), list(row["children"]), int(row["created"])


def cancel(db: Database, task: UUID | str, agent: UUID | None = None, reason: str | None = None,
           now: datetime | None = None) -> tuple[models.Task, int]:
    """Cancels a task and all its live descendants. -> (the task, how many were cancelled).
    ``agent`` None: as the operator (owner role)."""
    why = models.parse(models.Reason, {"reason": reason or "cancelled"})
    row = db.one("task_cancel", task=models.uuid_arg(task, "task"),
                 agent=None if agent is None else models.uuid_arg(agent, "agent"), reason=why.reason, now=now)
    return models.Task.from_row(row), int(row["cancelled"])


def children(db: Database, task: UUID | str, agent: UUID | None = None) -> list[dict[str, Any]]:
    """A task's children and their outcomes, in the order they were asked for."""
    return db.all("task_children", task=models.uuid_arg(task, "task"),
                  agent=None if agent is None else models.uuid_arg(agent, "agent"))


def tree(db: Database, task: UUID | str) -> list[dict[str, Any]]:
    """A task and its descendants, depth first (``level`` 0 is the task itself)."""
    task_id = models.uuid_arg(task, "task")
    rows = db.all("task_tree", task=task_id)
    if not rows:
        raise errors.NotFound(f"task {task_id} not found")
    return rows
