"""Query: the board, one task, agents, teams, consciousness and the dashboard; each a call of the
board's Python API made as the asking principal (``Context.read``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry

from phoenix_board.api import complexity
from phoenix_board.api.schema import types
from phoenix_board.api.schema.context import of
from phoenix_board.board import agents, consciousness, errors, lifecycle, ranking, teams

DEFAULT_PAGE = complexity.DEFAULT_PAGE  # one number: the page and what the cost limit counts for it


def _board(db: Any, sort: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str | None]:
    assignee = kwargs.pop("assignee")
    if assignee is not None:
        assignee = agents.resolve(db, assignee)
    return ranking.page(db, sort, assignee=assignee, **kwargs)


def _agent(db: Any, codename: str | None, id: str | None) -> Any:
    if (codename is None) == (id is None):
        raise errors.InvalidInput("give exactly one of codename or id")
    return agents.get(db, codename if codename is not None else id)


@strawberry.type
class Query:
    @strawberry.field(description="One page of the board, sorted (default HOT); pass pageInfo.endCursor as "
                                  "`after` for the next. `first` is at most 500.")
    async def task_board(self, info: strawberry.Info, status: list[types.TaskStatus] | None = None,
                         team: str | None = None, category: str | None = None,
                         assignee: Annotated[str | None, strawberry.argument(
                             description="Codename or id: tasks it holds or worked last.")] = None,
                         sort_by: types.SortBy = types.SortBy.HOT, first: int = DEFAULT_PAGE,
                         after: str | None = None) -> types.TaskConnection:
        rows, nxt = await of(info).read(
            _board, sort_by.value, team=team, category=category, assignee=assignee,
            statuses=[s.value for s in status] if status else None, limit=first, cursor=after)
        return types.TaskConnection(nodes=[types.BoardTask.of(r) for r in rows],
                                    page_info=types.PageInfo(has_next_page=nxt is not None, end_cursor=nxt))

    @strawberry.field(description="One task by id; NOT_FOUND when it does not exist or this token may not see it.")
    async def task(self, info: strawberry.Info, id: strawberry.ID) -> types.Task:
        return types.Task.of(await of(info).read(lifecycle.get, str(id)))

    @strawberry.field(description="One agent, by codename or by id.")
    async def agent(self, info: strawberry.Info, codename: str | None = None,
                    id: strawberry.ID | None = None) -> types.Agent:
        return types.Agent.of(await of(info).read(_agent, codename, None if id is None else str(id)))

    @strawberry.field(description="The agents in service, of one team or all.")
    async def agents(self, info: strawberry.Info, team: str | None = None) -> list[types.Agent]:
        return [types.Agent.of(a) for a in await of(info).read(agents.list_agents, team)]

    @strawberry.field(description="Every team.")
    async def teams(self, info: strawberry.Info) -> list[types.Team]:
        return [types.Team(**r) for r in await of(info).read_shared(teams.overview)]

    @strawberry.field(description="The newest snapshot of each team and of 'global' (within the last hour).")
    async def consciousness(self, info: strawberry.Info) -> list[types.ConsciousnessPoint]:
        return [types.ConsciousnessPoint.of(r) for r in await of(info).read_shared(consciousness.latest)]

    @strawberry.field(description="The timeline between two times, for charts: raw snapshots for ranges up to "
                                  "6 hours, the hourly rollup beyond. `end` defaults to now.")
    async def consciousness_range(self, info: strawberry.Info, start: datetime, end: datetime | None = None,
                                  team: str | None = None) -> types.ConsciousnessRange:
        for when in (start, end):
            if when is not None and when.tzinfo is None:
                raise errors.InvalidInput("times must include a zone, e.g. 2026-12-01T12:00:00Z")
        kind, rows = await of(info).read_shared(consciousness.history, start, end or datetime.now(UTC), team)
        if kind == "raw":
            return types.ConsciousnessRange(resolution=kind, points=[types.ConsciousnessPoint.of(r) for r in rows],
                                            hours=[])
        return types.ConsciousnessRange(resolution=kind, points=[], hours=[types.ConsciousnessHour.of(r) for r in rows])

    @strawberry.field(description="The federation dashboard: one row per team and one 'global' row, as of the "
                                  "beat's last refresh (empty before the first).")
    async def dashboard(self, info: strawberry.Info) -> list[types.DashboardRow]:
        return [types.DashboardRow.of(r) for r in await of(info).read_shared(_dashboard)]


def _dashboard(db: Any) -> list[dict[str, Any]]:
    if not db.one("matview_populated", view="federation_dashboard")["ispopulated"]:
        return []  # the beat has not refreshed it yet
    return consciousness.dashboard(db)
