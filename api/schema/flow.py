"""Flow control over GraphQL (docs/concepts/flow-control.md): the gates of teams and categories
(pause, resume, rate limits, budgets; operator tokens only) and the usage results reported.

Draining is a pause (``pauseScope``) followed by watching ``gates { inFlight }`` reach 0: a
mutation that held its request open until then would hold a connection for minutes.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry

from phoenix_board.api.schema.context import of
from phoenix_board.board import agents, gates


@strawberry.enum(description="What a gate applies to: a team's claims, or a category's in every team.")
class ScopeKind(enum.Enum):
    TEAM = "team"
    CATEGORY = "category"


@strawberry.type(description="A team's or category's gate: pause, rate limit, budgets, what holds it back now.")
class Gate:
    scope_kind: ScopeKind
    scope: str
    held: str | None = strawberry.field(description="paused, budget (spent in this window), rate, or null.")
    paused_at: datetime | None
    paused_reason: str | None
    rate_per_minute: int | None
    rate_burst: int | None
    budget_hour_cost: float | None
    budget_day_cost: float | None
    budget_hour_tokens: int | None
    budget_day_tokens: int | None
    hour_cost: float
    hour_tokens: int
    day_cost: float
    day_tokens: int
    in_flight: int = strawberry.field(description="Its tasks claimed or in progress (drain waits for 0).")

    @classmethod
    def of(cls, row: dict[str, Any]) -> Gate:
        number = (lambda v: None if v is None else float(v))
        return cls(scope_kind=ScopeKind(row["scope_kind"]), scope=row["scope"], held=row.get("held"),
                   paused_at=row["paused_at"], paused_reason=row["paused_reason"],
                   rate_per_minute=row["rate_per_minute"], rate_burst=row["rate_burst"],
                   budget_hour_cost=number(row["budget_hour_cost"]), budget_day_cost=number(row["budget_day_cost"]),
                   budget_hour_tokens=row["budget_hour_tokens"], budget_day_tokens=row["budget_day_tokens"],
                   hour_cost=float(row["hour_cost"]), hour_tokens=int(row["hour_tokens"]),
                   day_cost=float(row["day_cost"]), day_tokens=int(row["day_tokens"]),
                   in_flight=int(row.get("in_flight") or 0))


@strawberry.type(description="What results reported spending, per agent, team and model.")
class Usage:
    agent_id: strawberry.ID | None
    codename: str | None
    team: str
    model: str
    attempts: int
    tokens_in: int
    tokens_out: int
    cost: float


async def _gate(info: strawberry.Info, fn: Any, *args: Any, **kwargs: Any) -> Gate:
    ctx = of(info)
    ctx.principal.require("operator")
    await ctx.write(fn, *args, **kwargs)
    [row] = await ctx.read_shared(gates.status, args[0], args[1])
    return Gate.of(row)


@strawberry.type
class FlowQuery:
    @strawberry.field(description="Every gate (or one kind, or one scope) and what holds it back now.")
    async def gates(self, info: strawberry.Info, scope_kind: ScopeKind | None = None,
                    scope: str | None = None) -> list[Gate]:
        kind = None if scope_kind is None else scope_kind.value
        return [Gate.of(r) for r in await of(info).read_shared(gates.status, kind, scope)]

    @strawberry.field(description="Usage results reported, per agent, team and model (one agent's; since a time).")
    async def usage(self, info: strawberry.Info, agent: str | None = None, since: datetime | None = None) -> list[Usage]:
        ctx = of(info)
        agent_id = None if agent is None else await ctx.read_shared(agents.resolve, agent)
        rows = await ctx.read_shared(gates.usage, agent_id, since)
        return [Usage(agent_id=None if r["agent_id"] is None else strawberry.ID(str(r["agent_id"])),
                      codename=r["codename"], team=r["team"], model=r["model"], attempts=r["attempts"],
                      tokens_in=r["tokens_in"], tokens_out=r["tokens_out"], cost=float(r["cost"])) for r in rows]


@strawberry.type
class FlowMutation:
    @strawberry.mutation(description="Stops claims of a team or category on every pool from the next claim; work "
                                     "in flight finishes. Operator tokens only.")
    async def pause_scope(self, info: strawberry.Info, scope_kind: ScopeKind, scope: str,
                          reason: str | None = None) -> Gate:
        return await _gate(info, gates.pause, scope_kind.value, scope, reason)

    @strawberry.mutation(description="Lets claims of a paused team or category go again. Operator tokens only.")
    async def resume_scope(self, info: strawberry.Info, scope_kind: ScopeKind, scope: str) -> Gate:
        return await _gate(info, gates.resume, scope_kind.value, scope)

    @strawberry.mutation(description="Sets (perMinute null: removes) a rate limit in claims per minute across the "
                                     "fleet. Operator tokens only.")
    async def set_rate_limit(self, info: strawberry.Info, scope_kind: ScopeKind, scope: str,
                             per_minute: int | None, burst: int | None = None) -> Gate:
        return await _gate(info, gates.rate, scope_kind.value, scope, per_minute, burst)

    @strawberry.mutation(description="Sets the budgets per UTC hour and day (left out: none). Operator tokens only.")
    async def set_budget(self, info: strawberry.Info, scope_kind: ScopeKind, scope: str,
                         hour_cost: float | None = None, day_cost: float | None = None,
                         hour_tokens: int | None = None, day_tokens: int | None = None) -> Gate:
        return await _gate(info, gates.budget, scope_kind.value, scope, hour_cost=hour_cost, day_cost=day_cost,
                           hour_tokens=hour_tokens, day_tokens=day_tokens)
