"""Subscription (graphql-transport-ws): the board's changes as the relay publishes them.

Each field hands on the entries of API-B's in-memory fan-out (``api/subscriptions.py``), which
reads each Redis stream once per server process; nothing here polls PostgreSQL. An entry is the
relay's (``workers/stream.py``): its stream id, event id, topic, task, sequence, time, payload.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import strawberry
from strawberry.scalars import JSON

from phoenix_board.api.schema.context import of
from phoenix_board.board import errors


@strawberry.type(description="One entry of the event stream (README \"Event stream\").")
class BoardEvent:
    id: str | None = strawberry.field(description="The stream entry id: resume after it.")
    event_id: str | None
    topic: str
    task_id: strawberry.ID | None
    seq: int | None
    at: str | None
    payload: JSON | None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> BoardEvent:
        payload = entry.get("payload")
        if isinstance(payload, str | bytes):
            try:
                payload = json.loads(payload)
            except ValueError:
                pass
        task = entry.get("task_id") or None
        seq = entry.get("seq")
        return cls(id=_text(entry.get("id") or entry.get("stream_id")), event_id=_text(entry.get("event_id")),
                   topic=str(entry.get("topic") or ""), task_id=None if task is None else strawberry.ID(str(task)),
                   seq=int(seq) if seq not in (None, "") else None, at=_text(entry.get("at")), payload=payload)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


async def _events(info: strawberry.Info, source: AsyncIterator[dict[str, Any]]) -> AsyncGenerator[BoardEvent, None]:
    """Hands on ``source``'s entries, counted as one open subscription while it runs."""
    ctx = of(info)
    ctx.principal.require("agent", "operator", "reader", "public")
    gauge = getattr(ctx.request, "app", None)
    metrics = getattr(getattr(gauge, "state", None), "metrics", None)
    if metrics is not None:
        metrics.subscriptions.inc()
    try:
        async for entry in source:
            yield BoardEvent.of(entry)
    finally:
        if metrics is not None:
            metrics.subscriptions.dec()
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


def _fanout() -> Any:
    from phoenix_board.api import subscriptions  # API-B's fan-out; imported when first used

    return subscriptions


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Tasks as they are submitted, of one team or all.")
    async def task_created(self, info: strawberry.Info, team: str | None = None) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, _fanout().created_events(team)):
            yield event

    @strawberry.subscription(description="A task's status changes (give id), or every task's of a team: wait here "
                                         "for a result.")
    async def task_updated(self, info: strawberry.Info, id: strawberry.ID | None = None,
                           team: str | None = None) -> AsyncGenerator[BoardEvent, None]:
        if id is None and team is None:
            raise errors.InvalidInput("give the task's id or a team")
        async for event in _events(info, _fanout().task_events(team, None if id is None else str(id))):
            yield event

    @strawberry.subscription(description="Each consciousness snapshot as the beat writes it.")
    async def consciousness_updates(self, info: strawberry.Info) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, _fanout().consciousness_events()):
            yield event

    @strawberry.subscription(description="Hormone events: cascades spreading from agent to agent.")
    async def hormone_event(self, info: strawberry.Info) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, _fanout().hormone_events()):
            yield event
