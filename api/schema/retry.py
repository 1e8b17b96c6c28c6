"""Mutations of retry and requeue (docs/operations/retry.md): one task back on the board, and
retry or cancel by filter. The operator's only: an agent token is FORBIDDEN. The bulk mutation
counts and changes nothing unless ``dryRun: false`` is sent, the API's form of the command
line's confirmation."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from phoenix_board.api.schema import types
from phoenix_board.api.schema.context import of
from phoenix_board.board import retry


@strawberry.enum(description="What a bulk mutation does to the tasks its filter matches.")
class BulkAction(enum.Enum):
    RETRY = "retry"
    CANCEL = "cancel"


@strawberry.input(description="Which tasks a bulk retry or cancel takes; at least one field must be given.")
class TaskFilterInput:
    team: str | None = None
    category: str | None = None
    status: list[str] | None = strawberry.field(
        default=None, description="Retry: failed (default) and cancelled. Cancel: open (default), claimed, "
                                  "in_progress, review, waiting.")
    since: datetime | None = strawberry.field(
        default=None, description="Tasks that ended (unfinished: were created) at or after this time.")
    reason_like: str | None = strawberry.field(
        default=None, description="A LIKE pattern (case-insensitive) on the task's last error.")


@strawberry.type
class RetryResult:
    task: types.Task
    retried: int = strawberry.field(description="Tasks of its delegation tree that came back, itself included.")
    revived: int = strawberry.field(description="Dependents that had failed only because of it and came back.")


@strawberry.type
class BulkResult:
    action: BulkAction
    dry_run: bool
    matched: int = strawberry.field(description="Tasks the filter matched when counted, before acting.")
    done: int
    skipped: int = strawberry.field(description="Moved by someone else in between; left alone.")
    also: int = strawberry.field(description="Retry: tree tasks and dependents that came back with them. "
                                             "Cancel: descendants cancelled with them.")
    errors: list[str] = strawberry.field(description="The first few refusals, one line each.")


@strawberry.type
class RetryMutation:
    @strawberry.mutation(description="Puts a failed or cancelled task back on the board with a fresh attempt budget; "
                                     "its tree's failed tasks and the dependents that failed because of it come "
                                     "back too. Operator tokens only.")
    async def retry_task(self, info: strawberry.Info, task_id: strawberry.ID, reason: str | None = None) -> RetryResult:
        ctx = of(info)
        ctx.principal.require("operator")
        task, back, revived = await ctx.write(lambda db: retry.retry(db, str(task_id), reason))
        return RetryResult(task=types.Task.of(task), retried=back, revived=revived)

    @strawberry.mutation(description="Retries or cancels every task the filter matches, one transaction per task. "
                                     "Counts only, changing nothing, unless dryRun is false. Operator tokens only.")
    async def bulk_tasks(self, info: strawberry.Info, action: BulkAction, filter: TaskFilterInput,
                         reason: str | None = None, dry_run: bool = True) -> BulkResult:
        ctx = of(info)
        ctx.principal.require("operator")
        flt = retry.parse_filter(action.value, team=filter.team, category=filter.category, status=filter.status,
                                 since=filter.since, reason_like=filter.reason_like)
        if dry_run:
            matched = await ctx.write(lambda db: retry.count(db, flt))
            return BulkResult(action=action, dry_run=True, matched=matched, done=0, skipped=0, also=0, errors=[])
        done = await ctx.write(lambda db: retry.run(db, flt, reason))
        return BulkResult(action=action, dry_run=False, matched=done.matched, done=done.done, skipped=done.skipped,
                          also=done.also, errors=done.errors)
