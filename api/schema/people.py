"""People and operators: members' review verdicts, what waits for people, and the operations
console's figures (board/members.py, board/console.py). Merged into the root Query and Mutation
in api/schema/__init__.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from phoenix_board.api.schema import types
from phoenix_board.api.schema.context import of
from phoenix_board.board import console, errors, ids, lifecycle, members


@strawberry.type(description="A task in review that asks for a person and has no member's verdict yet.")
class WaitingTask:
    id: strawberry.ID
    title: str
    team: str
    category: str
    attempt: int
    quorum: int
    review_since: datetime
    waited_seconds: float
    verdicts: int = strawberry.field(description="Verdicts given so far (agents').")
    consensus: float = strawberry.field(description="Their sum, each weighted by its reviewer's trust.")
    executor: str | None
    submitted_by: str | None


@strawberry.type(description="Tasks of a team in one status.")
class DepthRow:
    team: str
    status: str
    n: int


@strawberry.type(description="A team's oldest claimable task and how long it has been claimable (0: none is).")
class OldestClaimable:
    team: str
    task_id: strawberry.ID | None
    available_at: datetime | None
    seconds: float


@strawberry.type(description="How long tasks stayed in a status they entered within the window.")
class StatusTime:
    status: str
    stays: int
    running: int = strawberry.field(description="Stays not ended yet (counted up to now).")
    mean_seconds: float
    p50_seconds: float
    p95_seconds: float
    max_seconds: float


@strawberry.type(description="Failed attempts of the window with one reason (the dead-letter view).")
class FailureGroup:
    reason: str
    attempts: int
    final: int = strawberry.field(description="Attempts that failed their task for good.")
    tasks: int
    teams: list[str]
    kinds: list[str]
    last_at: datetime
    latest_task: strawberry.ID


@strawberry.type(description="A task in review past the ReviewStalled threshold.")
class StalledReview:
    id: strawberry.ID
    title: str
    team: str
    category: str
    attempt: int
    quorum: int
    review_since: datetime
    waited_seconds: float
    verdicts: int


@strawberry.type(description="A beat job's last run and its state (ok, failing, stale).")
class BeatJob:
    job: str
    state: str
    runs: int
    period_seconds: float | None
    last_started_at: datetime | None
    last_success_at: datetime | None
    last_duration_ms: float | None
    last_error: str | None


@strawberry.type(description="The event relay: committed events not yet in Redis, and the age of the oldest.")
class RelayLag:
    unpublished: int
    lag_seconds: float


@strawberry.type(description="Agents in service on one host (read from their codenames), live and dead.")
class HostAgents:
    host: str
    live: int
    dead: int
    dead_agents: list[str]


@strawberry.type(description="An alert Prometheus holds for the board's rules.")
class FiringAlert:
    name: str
    state: str
    severity: str
    summary: str


@strawberry.type(description="The operations console's figures (docs/operations/console.md).")
class Console:
    since: datetime = strawberry.field(description="The start of the window of failures and time in status.")
    depth: list[DepthRow]
    oldest_claimable: list[OldestClaimable]
    time_in_status: list[StatusTime]
    failures: list[FailureGroup]
    stalled_reviews: list[StalledReview]
    waiting_for_people: list[WaitingTask]
    beat_jobs: list[BeatJob]
    relay: RelayLag
    agents_by_host: list[HostAgents]
    alerts: list[FiringAlert] | None = strawberry.field(
        description="Null when the server has no PHOENIX_PROMETHEUS_URL, or it could not be read (alertsError).")
    alerts_error: str | None


def _pick(cls: type, row: dict[str, Any], **ids_: Any) -> Any:
    fields = {name: row.get(name) for name in cls.__annotations__}
    for name in ids_ or ():
        fields[name] = None if row.get(name) is None else strawberry.ID(str(row[name]))
    return cls(**fields)


def _waiting(row: dict[str, Any]) -> WaitingTask:
    return _pick(WaitingTask, row, id=True)


def figures(db: Any, since: datetime | None, team: str | None, settings: Any) -> dict[str, Any]:
    """console.figures with what the board package may not import: the beat's periods and, when
    ``settings.prometheus_url`` is set, Prometheus' alerts (the web console calls this too)."""
    from phoenix_board.scheduler import jobs  # the beat's table: which jobs should run, how often

    reader = None
    if getattr(settings, "prometheus_url", None):
        from phoenix_board.metrics import alerting

        url = settings.prometheus_url
        reader = lambda: [a.__dict__ for a in alerting.active(url)]  # noqa: E731
    return console.figures(db, since=since, team=team, periods=jobs.periods(), alerts=reader)


@strawberry.type
class PeopleQuery:
    @strawberry.field(description="Tasks in review that ask for a person and have no member's verdict yet, "
                                  "oldest first.")
    async def waiting_for_people(self, info: strawberry.Info, team: str | None = None,
                                 first: int = 100) -> list[WaitingTask]:
        return [_waiting(r) for r in await of(info).read_shared(members.waiting, team, first)]

    @strawberry.field(description="The members (people who take part), of one team or all.")
    async def members(self, info: strawberry.Info, team: str | None = None) -> list[types.Agent]:
        return [types.Agent.of(m) for m in await of(info).read_shared(members.list_members, team)]

    @strawberry.field(description="The operations console's figures. Operator and reader tokens.")
    async def console(self, info: strawberry.Info, since: datetime | None = None,
                      team: str | None = None) -> Console:
        ctx = of(info)
        ctx.principal.require("operator", "reader")
        if since is not None and since.tzinfo is None:
            raise errors.InvalidInput("since must include a zone, e.g. 2026-12-01T12:00:00Z")
        f = await ctx.read_shared(figures, since, team, ctx.settings)
        return Console(
            since=f["since"],
            depth=[_pick(DepthRow, r) for r in f["depth"]],
            oldest_claimable=[_pick(OldestClaimable, r, task_id=True) for r in f["oldest_claimable"]],
            time_in_status=[_pick(StatusTime, r) for r in f["time_in_status"]],
            failures=[_pick(FailureGroup, r, latest_task=True) for r in f["failures"]],
            stalled_reviews=[_pick(StalledReview, r, id=True) for r in f["stalled_reviews"]],
            waiting_for_people=[_waiting(r) for r in f["waiting_for_people"]],
            beat_jobs=[_pick(BeatJob, r) for r in f["beat_jobs"]],
            relay=_pick(RelayLag, f["relay"]),
            agents_by_host=[_pick(HostAgents, r) for r in f["agents_by_host"]],
            alerts=None if f["alerts"] is None else [_pick(FiringAlert, a) for a in f["alerts"]],
            alerts_error=f["alerts_error"])


@strawberry.type
class ReviewTaskResult:
    task: types.Task
    decided: str | None = strawberry.field(description="'approved' or 'rejected' when this verdict decided it.")


def _agent_review(db: Any, agent_id: Any, task: str, verdict: int, reason: str | None) -> Any:
    return lifecycle.review(db, ids.task(db, task), agent_id, verdict, reason)


@strawberry.type
class PeopleMutation:
    @strawberry.mutation(description="A verdict (+1 approve, -1 reject) on a task in review, by a member token "
                                     "(a person: any task but one it submitted, no place claimed) or an agent "
                                     "token (where its agent may review). Counts toward the quorum weighted by "
                                     "the reviewer's trust.")
    async def review_task(self, info: strawberry.Info, task: strawberry.ID, verdict: int,
                          reason: str | None = None) -> ReviewTaskResult:
        ctx = of(info)
        ctx.principal.require("member", "agent")
        if ctx.principal.kind == "member":
            done, decided = await ctx.take_part(
                None, lambda db, me: members.review(db, str(task), me, verdict, reason))
        else:
            done, decided = await ctx.write_as(None, _agent_review, str(task), verdict, reason)
        return ReviewTaskResult(task=types.Task.of(done), decided=decided)
