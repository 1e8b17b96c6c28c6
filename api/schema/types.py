"""The schema's object types, named after the seed where it names them (tasks, agents, hormone
levels, the consciousness timeline). Built from the board's rows and models; the nested fields
of a task (votes, reviews, comments, history, dependencies, delegation) are read when asked for,
as the asking principal."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from phoenix_board.board import delegation, lifecycle, models, ranking, votes
from phoenix_board.board import comments as board_comments
from phoenix_board.api.schema import history as agent_history
from phoenix_board.api.schema.context import of


@strawberry.enum(description="Where a task is in its lifecycle (docs/concepts/lifecycle.md).")
class TaskStatus(enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    COMPLETE = "complete"
    FAILED = "failed"
    WAITING = "waiting"
    CANCELLED = "cancelled"


@strawberry.enum(description="The board's sorts (Lemmy's): docs/concepts/ranking.md.")
class SortBy(enum.Enum):
    HOT = "hot"
    ACTIVE = "active"
    NEW = "new"
    OLD = "old"
    TOP = "top"
    CONTROVERSIAL = "controversial"
    MOST_COMMENTS = "most_comments"


def _id(value: Any) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(str(value))


@strawberry.type(description="A vote on a task: +1 or -1.")
class Vote:
    agent_id: strawberry.ID
    codename: str
    value: int
    reason: str | None
    at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Vote:
        return cls(agent_id=_id(row["agent_id"]), codename=row["codename"], value=row["vote"], reason=row["reason"],
                   at=row["at"])


@strawberry.type(description="A peer's review verdict on one attempt, weighted by the reviewer's trust.")
class Review:
    attempt: int
    agent_id: strawberry.ID
    codename: str
    verdict: int
    weight: float
    reason: str | None
    at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Review:
        return cls(attempt=row["attempt"], agent_id=_id(row["agent_id"]), codename=row["codename"],
                   verdict=row["verdict"], weight=row["weight"], reason=row["reason"], at=row["at"])


@strawberry.type(description="A comment in a task's thread; depth 0 is a top-level comment.")
class Comment:
    id: strawberry.ID
    task_id: strawberry.ID | None
    parent_id: strawberry.ID | None
    depth: int
    agent_id: strawberry.ID
    codename: str | None
    content: str
    upvotes: int
    downvotes: int
    created_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any], task_id: Any = None) -> Comment:
        return cls(id=_id(row["id"]), task_id=_id(row.get("task_id", task_id)), parent_id=_id(row["parent_comment_id"]),
                   depth=row["depth"], agent_id=_id(row["agent_id"]), codename=row.get("codename"),
                   content=row["content"], upvotes=row["upvotes"], downvotes=row["downvotes"],
                   created_at=row["created_at"])


@strawberry.type(description="One entry of a task's history (claimed, started, completed, ...).")
class TaskEvent:
    seq: int
    kind: str
    agent_id: strawberry.ID | None
    codename: str | None
    attempt: int | None
    at: datetime
    detail: JSON | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> TaskEvent:
        return cls(seq=row["seq"], kind=row["kind"], agent_id=_id(row["agent_id"]), codename=row["codename"],
                   attempt=row["attempt"], at=row["at"], detail=row["detail"])


@strawberry.type(description="One task of a delegation tree, depth first; level 0 is the task asked about.")
class TreeNode:
    id: strawberry.ID
    parent_id: strawberry.ID | None
    level: int
    title: str
    category: str
    status: TaskStatus
    attempt: int
    child_key: str | None
    children_total: int
    children_done: int
    children_failed: int
    join_k: int | None
    on_child_failure: str | None
    agent: str | None
    delegated_by: str | None
    escalated_to: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> TreeNode:
        return cls(id=_id(row["id"]), parent_id=_id(row["parent_id"]), level=row["level"], title=row["title"],
                   category=row["category"], status=TaskStatus(row["status"]), attempt=row["attempt"],
                   child_key=row["child_key"], children_total=row["children_total"],
                   children_done=row["children_done"], children_failed=row["children_failed"], join_k=row["join_k"],
                   on_child_failure=row["on_child_failure"], agent=row["agent"], delegated_by=row["delegated_by"],
                   escalated_to=row["escalated_to"])


@strawberry.type(description="A task (the seed's tasks table), with its history on demand.")
class Task:
    id: strawberry.ID
    title: str
    description: str
    category: str
    payload: JSON
    priority: int
    team: str
    status: TaskStatus
    created_by: strawberry.ID | None
    assigned_to: strawberry.ID | None
    upvotes: int
    downvotes: int
    score: int
    comment_count: int
    hot_score: float
    active_score: float
    controversy: float
    dopamine_reward: float
    attempt: int = strawberry.field(description="The fencing token: name it in renew, start, result, fail, delegate.")
    max_attempts: int
    available_at: datetime
    lease_expires_at: datetime | None
    claimed_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    review_quorum: int
    review_since: datetime | None
    depends_on: list[strawberry.ID]
    pending_deps: int
    output: JSON | None
    quality_score: float | None
    last_error: str | None
    deadline: datetime | None
    fibonacci_size: int
    idempotency_key: str | None
    created_at: datetime
    parent_id: strawberry.ID | None
    root_id: strawberry.ID | None
    depth: int
    child_key: str | None
    join_k: int | None
    children_total: int
    children_done: int
    children_failed: int
    needs_person: bool = strawberry.field(default=False, description="Its review quorum is not met without a "
                                                                      "member's verdict (a person's).")
    concurrency_key: str | None = None
    concurrency_limit: int | None = None

    @classmethod
    def of(cls, task: models.Task) -> Task:
        d = task.model_dump()
        fields = {f: d[f] for f in cls.__annotations__ if f in d}
        for name in ("id", "created_by", "assigned_to", "parent_id", "root_id"):
            fields[name] = _id(d[name])
        fields["depends_on"] = [strawberry.ID(str(x)) for x in task.depends_on]
        fields["status"] = TaskStatus(task.status.value)
        return cls(**fields)

    @strawberry.field(description="The votes on this task, newest first.")
    async def votes(self, info: strawberry.Info) -> list[Vote]:
        return [Vote.of(r) for r in await of(info).read(votes.votes_for, self.id)]

    @strawberry.field(description="The review verdicts, by attempt.")
    async def reviews(self, info: strawberry.Info) -> list[Review]:
        return [Review.of(r) for r in await of(info).read(votes.reviews_for, self.id)]

    @strawberry.field(description="The comment thread in reading order (parents before replies).")
    async def comments(self, info: strawberry.Info) -> list[Comment]:
        return [Comment.of(r, self.id) for r in await of(info).read(board_comments.thread, self.id)]

    @strawberry.field(description="The task's history, in order.")
    async def history(self, info: strawberry.Info) -> list[TaskEvent]:
        return [TaskEvent.of(r) for r in await of(info).read(lifecycle.events, self.id)]

    @strawberry.field(description="The tasks this one depends on.")
    async def dependencies(self, info: strawberry.Info) -> list[Task]:
        return [Task.of(await of(info).read(lifecycle.get, dep)) for dep in self.depends_on]

    @strawberry.field(description="The ids of the tasks that depend on this one.")
    async def dependents(self, info: strawberry.Info) -> list[strawberry.ID]:
        task = await of(info).read(lifecycle.get, self.id)
        return [strawberry.ID(str(x)) for x in task.blocks or []]

    @strawberry.field(description="This task and its descendants, depth first (docs/concepts/delegation.md).")
    async def delegation_tree(self, info: strawberry.Info) -> list[TreeNode]:
        return [TreeNode.of(r) for r in await of(info).read(delegation.tree, self.id)]


@strawberry.type(description="A task as the board lists it; `task` reads the whole of it.")
class BoardTask:
    id: strawberry.ID
    title: str
    team: str
    status: TaskStatus
    category: str
    priority: int
    score: int
    upvotes: int
    downvotes: int
    comment_count: int
    hot_score: float
    active_score: float
    controversy: float
    fibonacci_size: int
    assigned_to: strawberry.ID | None
    attempt: int
    deadline: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> BoardTask:
        fields = {name: row[name] for name in ranking.LISTED}
        fields["id"], fields["assigned_to"] = _id(row["id"]), _id(row["assigned_to"])
        fields["status"] = TaskStatus(row["status"])
        return cls(**fields)

    @strawberry.field
    async def task(self, info: strawberry.Info) -> Task:
        return Task.of(await of(info).read(lifecycle.get, self.id))


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type(description="One page of the board over the listing's keyset cursors.")
class TaskConnection:
    nodes: list[BoardTask]
    page_info: PageInfo


@strawberry.type(description="The seed's hormone_levels; baselines 1.0, 1.0, 1.0, 0.3.")
class Hormones:
    dopamine: float
    oxytocin: float
    adrenaline: float
    cortisol: float


@strawberry.type(description="An agent (the seed's agents table).")
class Agent:
    id: strawberry.ID
    codename: str
    team: str
    role: str
    specialization: list[str]
    hormone_levels: Hormones
    trust_coefficient: float
    tasks_completed: int
    tasks_failed: int
    success_rate: float | None
    average_response_seconds: float | None
    fibonacci_level: int
    current_task: strawberry.ID | None
    last_heartbeat: datetime
    created_at: datetime
    decommissioned_at: datetime | None
    kind: str = strawberry.field(default="agent", description="'agent', or 'member': a person, who never claims.")
    history: agent_history.AgentHistory = strawberry.field(resolver=agent_history.agent_history)

    @classmethod
    def of(cls, a: models.Agent) -> Agent:
        h = a.hormone_levels
        return cls(id=_id(a.id), codename=a.codename, team=a.team, role=a.role, specialization=list(a.specialization),
                   hormone_levels=Hormones(dopamine=h.dopamine, oxytocin=h.oxytocin, adrenaline=h.adrenaline,
                                           cortisol=h.cortisol),
                   trust_coefficient=a.trust_coefficient, tasks_completed=a.tasks_completed,
                   tasks_failed=a.tasks_failed, success_rate=a.success_rate,
                   average_response_seconds=(a.average_response_time.total_seconds()
                                             if a.average_response_time is not None else None),
                   fibonacci_level=a.fibonacci_level, current_task=_id(a.current_task),
                   last_heartbeat=a.last_heartbeat, created_at=a.created_at, decommissioned_at=a.decommissioned_at,
                   kind=a.kind)


@strawberry.type(description="A team, its agents in service and its tasks not yet ended.")
class Team:
    name: str
    description: str
    created_at: datetime
    agents: int
    live_tasks: int


@strawberry.type(description="One consciousness snapshot (the seed's consciousness_timeline row).")
class ConsciousnessPoint:
    team: str
    time: datetime
    global_consciousness: float | None
    global_trust: float | None
    team_consciousness: float | None
    team_coherence: float | None
    avg_dopamine: float | None
    avg_oxytocin: float | None
    avg_adrenaline: float | None
    avg_cortisol: float | None
    active_agents: int | None
    tasks_per_hour: float | None
    decisions_per_second: float | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ConsciousnessPoint:
        return cls(**{name: row[name] for name in cls.__annotations__})


@strawberry.type(description="One hour of the rollup (the seed's hourly aggregate).")
class ConsciousnessHour:
    team: str
    bucket: datetime
    avg_consciousness: float | None
    peak_consciousness: float | None
    avg_trust: float | None
    dopamine_level: float | None
    total_tasks: float | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ConsciousnessHour:
        return cls(**{name: row[name] for name in cls.__annotations__})


@strawberry.type(description="A time range of the timeline: raw snapshots up to 6 hours, hourly rows beyond.")
class ConsciousnessRange:
    resolution: str = strawberry.field(description="'raw' or 'hourly'.")
    points: list[ConsciousnessPoint]
    hours: list[ConsciousnessHour]


@strawberry.type(description="The federation dashboard's figures for a team or 'global' (the seed's view, without "
                             "its pipeline value: docs/concepts/beat.md#consciousness), as of its last refresh by "
                             "the beat.")
class DashboardRow:
    team: str
    total_agents: int
    active_agents: int
    avg_trust: float | None
    tasks_24h: int
    open_tasks: int
    current_consciousness: float | None
    consciousness_at: datetime | None
    refreshed_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> DashboardRow:
        fields = {name: row[name] for name in cls.__annotations__}
        for name in ("avg_trust", "current_consciousness"):  # numeric columns arrive as Decimal
            fields[name] = None if fields[name] is None else float(fields[name])
        return cls(**fields)
