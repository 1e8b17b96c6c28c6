"""``Agent.history(since)``: an agent's hormones and trust over time, the interactions that moved
its trust and the cascades it took part in (board/history.py), for the charts of an agent's page.
Kept apart from types.py, which mounts the field with one line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from phoenix_board.api.schema.context import of
from phoenix_board.board import errors, history


@strawberry.type(description="An agent's hormone levels and trust at one time (a beat sample, or now).")
class HistoryPoint:
    at: datetime
    dopamine: float
    oxytocin: float
    adrenaline: float
    cortisol: float
    trust: float


@strawberry.type(description="An interaction that changed the agent's trust (or its hormones, in a cascade).")
class Interaction:
    id: strawberry.ID
    at: datetime
    kind: str = strawberry.field(description="Why: outcome, review, consensus, vote, delegation, sync, ...")
    from_agent: strawberry.ID | None
    from_codename: str | None
    task_id: strawberry.ID | None
    task_title: str | None
    trust_delta: float
    success: bool | None
    hormone_exchange: JSON | None
    metadata: JSON


@strawberry.type(description="A hormone cascade the agent took part in, as its source or as a receiver.")
class CascadeTakenPart:
    id: strawberry.ID
    kind: str
    hormone: str
    intensity: float
    role: str = strawberry.field(description="'source' or 'receiver'.")
    delta: float | None = strawberry.field(description="What reached this agent (receivers).")
    hop: int | None
    team: str | None
    task_id: strawberry.ID | None
    created_at: datetime
    applied_at: datetime | None


@strawberry.type(description="An agent's history between since and until (default now).")
class AgentHistory:
    points: list[HistoryPoint]
    interactions: list[Interaction]
    cascades: list[CascadeTakenPart]


def _read(db: Any, agent_id: str, since: datetime, until: datetime | None) -> AgentHistory:
    points = history.series(db, agent_id, since, until)
    moved = history.interactions(db, agent_id, since, until)
    taken = history.cascades(db, agent_id, since, until)
    sid = lambda v: None if v is None else strawberry.ID(str(v))  # noqa: E731
    return AgentHistory(
        points=[HistoryPoint(**p) for p in points],
        interactions=[Interaction(id=sid(r["id"]), at=r["at"], kind=r["kind"], from_agent=sid(r["agent_from"]),
                                  from_codename=r["from_codename"], task_id=sid(r["task_id"]),
                                  task_title=r["task_title"], trust_delta=r["trust_delta"], success=r["success"],
                                  hormone_exchange=r["hormone_exchange"], metadata=r["metadata"]) for r in moved],
        cascades=[CascadeTakenPart(id=sid(r["id"]), kind=r["kind"], hormone=r["hormone"], intensity=r["intensity"],
                                   role=r["role"], delta=r["delta"], hop=r["hop"], team=r["team"],
                                   task_id=sid(r["task_id"]), created_at=r["created_at"], applied_at=r["applied_at"])
                  for r in taken])


async def agent_history(root: Any, info: strawberry.Info, since: datetime,
                        until: datetime | None = None) -> AgentHistory:
    """Hormones and trust sampled by the beat (one point a minute, thinned to at most 2,000 for long
    ranges; the last point is now when `until` is left out), with the interactions (newest 200)
    and cascades (newest 100) of the range."""
    for when in (since, until):
        if when is not None and when.tzinfo is None:
            raise errors.InvalidInput("times must include a zone, e.g. 2026-12-01T12:00:00Z")
    # the read pool: hormones and trust are public to every token, as an agent's row is
    return await of(info).read_shared(_read, str(root.id), since, until)
