"""Retry and requeue (docs/operations/retry.md): one task back on the board, or many by filter.

``retry`` is one call of ``phoenix.task_retry`` (sql/functions/32_task_retry.sql): a failed or
cancelled task goes back to ``open``, claimable at once, with a fresh attempt budget (its attempt
number, the fencing token, keeps counting; ``attempts_before`` moves up to it). It is recorded as a
``retried`` task event, which the outbox carries as ``task.updated`` like every transition. The
failed and cancelled tasks of its delegation tree come back with it, and so do the tasks that
failed only because of it (``revived`` events). Only the operator (the owner role) retries.

The bulk operations (``tasks retry|cancel``) select by a :class:`Filter`, count first (the dry
run), then act task by task, one transaction each, in id order after a cursor: a task another
operator moved in between is skipped and counted, never acted on twice, and no transaction holds
more than one tree's locks.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from phoenix_board.board import constants, delegation, errors, models
from phoenix_board.board.db import Database

Action = Literal["retry", "cancel"]
# what each action may take, and what it takes when no --status is given
STATUSES: dict[str, tuple[str, ...]] = {
    "retry": ("failed", "cancelled"),
    "cancel": ("open", "claimed", "in_progress", "review", "waiting"),
}
DEFAULT_STATUSES: dict[str, tuple[str, ...]] = {"retry": ("failed",), "cancel": ("open",)}
REASON_LIKE_MAX = 200
BATCH_MAX = 10_000
_START = uuid.UUID(int=0)


def retry(db: Database, task: uuid.UUID | str, reason: str | None = None,
          now: datetime | None = None) -> tuple[models.Task, int, int]:
    """Puts a failed or cancelled task back on the board. -> (the task, how many tasks of its tree
    came back, itself included, how many dependents were revived)."""
    why = models.parse(models.Reason, {"reason": reason or "retried"})
    row = db.one("task_retry", task=models.uuid_arg(task, "task"), reason=why.reason, now=now)
    return models.Task.from_row(row), int(row["retried"]), int(row["revived"])


class Filter(models.Input):
    """Which tasks a bulk retry or cancel takes. At least one condition must be given, so that no
    typo turns into the whole board."""

    action: Action
    team: models.Name | None = None
    category: models.Category | None = None
    status: list[models.TaskStatus] | None = None
    since: models.AwareDatetime = None
    reason_like: Annotated[models.Text, Field(min_length=1, max_length=REASON_LIKE_MAX)] | None = None

    @field_validator("status")
    @classmethod
    def _some(cls, value: list[models.TaskStatus] | None) -> list[models.TaskStatus] | None:
        if value is not None and not value:
            raise ValueError("give at least one status")
        return value

    @model_validator(mode="after")
    def _checked(self) -> Filter:
        if all(v is None for v in (self.team, self.category, self.status, self.since, self.reason_like)):
            raise ValueError("give at least one of team, category, status, since, reason_like")
        allowed = STATUSES[self.action]
        bad = [s.value for s in self.status or () if s.value not in allowed]
        if bad:
            raise ValueError(f"{self.action} takes tasks that are {', '.join(allowed)}, not {', '.join(bad)}")
        return self

    def statuses(self) -> list[str]:
        return [s.value for s in self.status] if self.status else list(DEFAULT_STATUSES[self.action])

    def params(self) -> dict[str, Any]:
        return {"statuses": self.statuses(), "roots": self.action == "retry", "team": self.team,
                "category": self.category, "since": self.since, "reason_like": self.reason_like}


def parse_filter(action: str, **conditions: Any) -> Filter:
    return models.parse(Filter, {"action": action, **conditions})


def count(db: Database, flt: Filter) -> int:
    """How many tasks the filter matches now: the dry run."""
    return int(db.one("tasks_bulk_count", **flt.params())["n"])


@dataclasses.dataclass
class BulkResult:
    action: str
    matched: int  # counted before acting
    done: int = 0  # tasks retried or cancelled (the ones selected, not their trees)
    skipped: int = 0  # moved by someone else in between (no longer retryable or cancellable)
    also: int = 0  # retry: tree tasks and dependents that came back with them; cancel: descendants
    errors: list[str] = dataclasses.field(default_factory=list)  # the first few refusals, one line each

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def run(db: Database, flt: Filter, reason: str | None = None, *, batch: int = 100,
        progress: Callable[[int], None] | None = None, now: datetime | None = None) -> BulkResult:
    """Retries or cancels every task the filter matches, ``batch`` ids per selection; calls
    ``progress(n)`` after each batch with how many it handled."""
    batch = models.whole_arg(batch, "batch", 1, BATCH_MAX)
    why = models.parse(models.Reason, {"reason": reason or ("retried" if flt.action == "retry" else "cancelled")}).reason
    result = BulkResult(flt.action, count(db, flt))
    after = _START
    while ids := [r["id"] for r in db.all("tasks_bulk_select", **flt.params(), after=after, batch=batch)]:
        for task in ids:
            try:
                if flt.action == "retry":
                    _, retried, revived = retry(db, task, why, now)
                    result.also += retried - 1 + revived
                else:
                    _, cancelled = delegation.cancel(db, task, None, why, now)
                    result.also += cancelled - 1
                result.done += 1
            except (errors.Conflict, errors.NotFound) as exc:
                result.skipped += 1
                if len(result.errors) < constants.BULK_ERRORS_SHOWN:
                    result.errors.append(exc.message)
        after = ids[-1]
        if progress is not None:
            progress(len(ids))
    return result
