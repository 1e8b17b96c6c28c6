"""Mutation: submit (and wait), vote, comment, cascade, cancel, and the agent protocol.

Each field is one call of the board's Python API, so one transaction: it happens whole or, with
an error, not at all. The protocol's calls (renew, start, result, fail, delegate) name the
attempt they claimed, the fencing token: a late call for an attempt that moved on is refused with
STALE_CLAIM and changes nothing, exactly as for a worker. Who a call acts for is
``Context.acting_agent``: an agent token only for its own agent.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from phoenix_board.api.schema import types
from phoenix_board.api.schema.context import of
from phoenix_board.board import agents, comments, delegation, errors, federation, lifecycle, votes

AgentArg = Annotated[str | None, strawberry.argument(
    description="The agent this call acts for (codename or id): an operator token must name it; "
                "an agent token acts only as its own and may leave it out (a member token, where it "
                "may act, as its member).")]


VoteArg = Annotated[int, strawberry.argument(description="+1, -1, or 0 to retract (the seed's `vote`).")]


@strawberry.input(description="A new task; fields left out or null take the board's defaults.")
class CreateTaskInput:
    title: str
    team: str
    description: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    payload: JSON | None = strawberry.UNSET
    priority: int | None = strawberry.UNSET
    dopamine_reward: float | None = strawberry.UNSET
    max_attempts: int | None = strawberry.UNSET
    review_quorum: int | None = strawberry.UNSET
    depends_on: list[strawberry.ID] | None = strawberry.UNSET
    deadline: datetime | None = strawberry.UNSET
    fibonacci_size: int | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.field(
        default=strawberry.UNSET, description="Sending the same key again returns the first task (created: false).")
    created_by: str | None = strawberry.field(
        default=strawberry.UNSET, description="Operator tokens: the submitting agent (codename or id). An agent "
                                              "token's tasks are always its agent's.")
    needs_person: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Ask for a person's verdict: the review quorum (at least 1) is not "
                                              "met without a member's (docs/concepts/review.md#members).")
    # flow control (docs/concepts/flow-control.md)
    not_before: datetime | None = strawberry.field(default=strawberry.UNSET,
                                                   description="Not claimable before this time.")
    concurrency_key: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most concurrencyLimit tasks with this key in flight at once.")
    concurrency_limit: int | None = strawberry.field(default=strawberry.UNSET,
                                                     description="With concurrencyKey; default 1.")


@strawberry.input(description="One child of a delegation; fields left out are inherited from the parent.")
class ChildInput:
    title: str
    key: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    payload: JSON | None = strawberry.UNSET
    priority: int | None = strawberry.UNSET
    max_attempts: int | None = strawberry.UNSET
    review_quorum: int | None = strawberry.UNSET
    fibonacci_size: int | None = strawberry.UNSET


@strawberry.type
class CreateTaskResult:
    task: types.Task
    created: bool = strawberry.field(description="False when the idempotency key named an existing task.")
    ended: bool = strawberry.field(description="The task had ended (complete, failed, cancelled) when this returned.")


@strawberry.type
class VoteResult:
    task_id: strawberry.ID
    upvotes: int
    downvotes: int
    score: int
    previous: int | None


@strawberry.type
class CommentVoteResult:
    comment_id: strawberry.ID
    upvotes: int
    downvotes: int
    previous: int | None


@strawberry.type
class ReviewResult:
    task: types.Task
    decided: str | None = strawberry.field(description="'approved' or 'rejected' when this verdict decided it.")


@strawberry.type
class DelegateResult:
    task: types.Task
    children: list[strawberry.ID]
    created: int


@strawberry.type
class CancelResult:
    task: types.Task
    cancelled: int


def _given(obj: Any) -> dict[str, Any]:
    """The fields the client sent, by the board's (snake_case) names."""
    return {k: v for k, v in vars(obj).items() if v is not strawberry.UNSET and v is not None}


def _join(value: str) -> str | int:
    return int(value) if value.isdigit() else value


def _json(row: dict[str, Any]) -> Any:
    """A row as JSON: ids and times as text, at any depth."""
    return json.loads(json.dumps(row, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Submits a task. With waitSeconds, returns when the task ends or the wait "
                                     "runs out, whichever is first (ended says which).")
    async def create_task(self, info: strawberry.Info, input: CreateTaskInput,
                          wait_seconds: float | None = None) -> CreateTaskResult:
        ctx = of(info)
        data = _given(input)
        limit = ctx.settings.api_wait_max_seconds
        if wait_seconds is not None and not 0 <= wait_seconds <= limit:
            raise errors.InvalidInput(f"waitSeconds must be from 0 to {limit:g}")
        if "depends_on" in data:
            data["depends_on"] = [str(x) for x in data["depends_on"]]
        if ctx.principal.kind == "agent":
            if data.get("created_by") not in (None, str(ctx.principal.agent_id), ctx.principal.codename):
                raise errors.Forbidden(f"this token submits only as agent {ctx.principal.codename}")
            data["created_by"] = str(ctx.principal.agent_id)
            task, created = await ctx.write(lifecycle.submit, data)
        else:
            ctx.principal.require("operator")
            if "created_by" in data:
                data["created_by"] = str((await ctx.acting_agent(data["created_by"]))[0])
            task, created = await ctx.write(lifecycle.submit, data)
        if wait_seconds:
            from phoenix_board.api import subscriptions  # the event stream's fan-out (API-B)

            await subscriptions.wait_for_end(task.id, wait_seconds)
            task = await ctx.read(lifecycle.get, task.id)
        return CreateTaskResult(task=types.Task.of(task), created=created,
                                ended=task.status.value in ("complete", "failed", "cancelled"))

    @strawberry.mutation(description="Votes on a task: +1, -1, or 0 to retract.")
    async def vote_task(self, info: strawberry.Info, task_id: strawberry.ID, vote: VoteArg, reason: str | None = None,
                        agent: AgentArg = None) -> VoteResult:
        row = await of(info).take_part(agent, lambda db, a: votes.vote(db, str(task_id), a, vote, reason))
        return VoteResult(task_id=strawberry.ID(str(row["id"])), upvotes=row["upvotes"], downvotes=row["downvotes"],
                          score=row["score"], previous=row["previous"])

    @strawberry.mutation(description="Comments on a task, or replies to one of its comments (parentId).")
    async def comment(self, info: strawberry.Info, task_id: strawberry.ID, content: str,
                      parent_id: strawberry.ID | None = None, agent: AgentArg = None) -> types.Comment:
        parent = None if parent_id is None else str(parent_id)
        row = await of(info).take_part(agent, lambda db, a: comments.add(db, str(task_id), a, content, parent))
        return types.Comment.of(row, task_id)

    @strawberry.mutation(description="Votes on a comment: +1, -1, or 0 to retract.")
    async def vote_comment(self, info: strawberry.Info, comment_id: strawberry.ID, vote: VoteArg,
                           agent: AgentArg = None) -> CommentVoteResult:
        row = await of(info).take_part(agent, lambda db, a: votes.comment_vote(db, str(comment_id), a, vote))
        return CommentVoteResult(comment_id=strawberry.ID(str(row["id"])), upvotes=row["upvotes"],
                                 downvotes=row["downvotes"], previous=row["previous"])

    @strawberry.mutation(description="The operator's hormone cascade (the seed's cascadeHormone) from a team or "
                                     "an agent; replaying a cascadeId changes nothing. Operator tokens only.")
    async def cascade_hormone(self, info: strawberry.Info,
                              hormone: Annotated[str, strawberry.argument(
                                  name="type", description="dopamine, oxytocin, adrenaline or cortisol")],
                              intensity: float, team: str | None = None,
                              agent: str | None = None, cascade_id: strawberry.ID | None = None) -> JSON:
        ctx = of(info)
        ctx.principal.require("operator")
        row = await ctx.write(lambda db: federation.cascade(db, hormone, intensity, team=team, agent=agent,
                                                            cascade_id=None if cascade_id is None else str(cascade_id)))
        return _json(row)

    @strawberry.mutation(description="Cancels a task and its live descendants. An agent token may cancel what its "
                                     "agent submitted or delegated; an operator token any task.")
    async def cancel_task(self, info: strawberry.Info, task_id: strawberry.ID, reason: str | None = None) -> CancelResult:
        ctx = of(info)
        mine = ctx.principal.agent_id if ctx.principal.kind == "agent" else None
        task, n = await ctx.write(lambda db: delegation.cancel(db, str(task_id), mine, reason))
        return CancelResult(task=types.Task.of(task), cancelled=n)

    @strawberry.mutation(description="The agent is alive: an HTTP agent that waits between claims calls this "
                                     "every few seconds, so it counts as active (docs/concepts/beat.md#consciousness).")
    async def heartbeat(self, info: strawberry.Info, agent: AgentArg = None) -> types.Agent:
        return types.Agent.of(await of(info).write_as(agent, lambda db, a: agents.heartbeat(db, a)))

    @strawberry.mutation(description="Claims the next task in the claim order for this agent; null when none.")
    async def claim(self, info: strawberry.Info, lease_seconds: float | None = None,
                    agent: AgentArg = None) -> types.Task | None:
        lease = lease_seconds if lease_seconds is not None else of(info).settings.lease_seconds
        task = await of(info).write_as(agent, lambda db, a: lifecycle.claim(db, a, lease))
        return None if task is None else types.Task.of(task)

    @strawberry.mutation(description="Extends the lease of the claim this attempt holds.")
    async def renew(self, info: strawberry.Info, task_id: strawberry.ID, attempt: int,
                    lease_seconds: float | None = None, agent: AgentArg = None) -> types.Task:
        lease = lease_seconds if lease_seconds is not None else of(info).settings.lease_seconds
        return types.Task.of(await of(info).write_as(
            agent, lambda db, a: lifecycle.renew(db, str(task_id), a, attempt, lease)))

    @strawberry.mutation(description="Starts work on a claimed task (claimed -> in_progress).")
    async def start(self, info: strawberry.Info, task_id: strawberry.ID, attempt: int,
                    lease_seconds: float | None = None, agent: AgentArg = None) -> types.Task:
        lease = lease_seconds if lease_seconds is not None else of(info).settings.lease_seconds
        return types.Task.of(await of(info).write_as(
            agent, lambda db, a: lifecycle.start(db, str(task_id), a, attempt, lease)))

    @strawberry.mutation(description="Submits the result of this attempt: the task completes, or waits in review "
                                     "when it has a quorum.")
    async def result(self, info: strawberry.Info, task_id: strawberry.ID, attempt: int, output: JSON | None = None,
                     quality: float | None = None, agent: AgentArg = None) -> types.Task:
        return types.Task.of(await of(info).write_as(
            agent, lambda db, a: lifecycle.result(db, str(task_id), a, attempt, output, quality)))

    @strawberry.mutation(description="This attempt failed: the task retries after a backoff, or fails for good at "
                                     "maxAttempts.")
    async def fail(self, info: strawberry.Info, task_id: strawberry.ID, attempt: int, reason: str,
                   agent: AgentArg = None) -> types.Task:
        return types.Task.of(await of(info).write_as(
            agent, lambda db, a: lifecycle.fail(db, str(task_id), a, attempt, reason)))

    @strawberry.mutation(description="Takes a reviewer's place on the oldest task in review this agent may review; "
                                     "null when none waits.")
    async def claim_review(self, info: strawberry.Info, lease_seconds: float | None = None,
                           agent: AgentArg = None) -> types.Task | None:
        lease = lease_seconds if lease_seconds is not None else of(info).settings.lease_seconds
        task = await of(info).write_as(agent, lambda db, a: lifecycle.review_claim(db, a, lease))
        return None if task is None else types.Task.of(task)

    @strawberry.mutation(description="A peer's verdict (+1 approve, -1 reject) on the attempt in review.")
    async def review(self, info: strawberry.Info, task_id: strawberry.ID, verdict: int, reason: str | None = None,
                     agent: AgentArg = None) -> ReviewResult:
        task, decided = await of(info).take_part(
            agent, lambda db, a: lifecycle.review(db, str(task_id), a, verdict, reason))
        return ReviewResult(task=types.Task.of(task), decided=decided)

    @strawberry.mutation(description="Ends this attempt by splitting the task into children; it waits for them "
                                     "(join: 'all', 'any' or a number; onFailure: 'fail' or 'ignore').")
    async def delegate(self, info: strawberry.Info, task_id: strawberry.ID, attempt: int, children: list[ChildInput],
                       join: str = "all", on_failure: str = "fail", agent: AgentArg = None) -> DelegateResult:
        specs = [_given(c) for c in children]
        task, kids, created = await of(info).write_as(
            agent, lambda db, a: delegation.delegate(db, str(task_id), a, attempt, specs, _join(join), on_failure))
        return DelegateResult(task=types.Task.of(task), children=[strawberry.ID(str(k)) for k in kids], created=created)
