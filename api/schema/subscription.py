"""Subscription (graphql-transport-ws): the board's changes as the relay publishes them.

Each field hands on the entries of API-B's in-memory fan-out (``api/subscriptions.py``), which
reads each Redis stream once per server process; nothing here polls PostgreSQL. An entry is the
relay's (``workers/stream.py``): its stream id, event id, topic, task, sequence, time, payload.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from phoenix_board.api import errors as api_errors
from phoenix_board.api.schema.context import of
from phoenix_board.board import errors


AfterArg = Annotated[str | None, strawberry.argument(
    description="Resume: the `id` of the last event you saw (after a reconnect). Entries the stream no longer "
                "holds end the subscription with EVENTS_MISSED: re-read what you follow, then subscribe again.")]


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


async def _events(info: strawberry.Info, opener: Callable[..., AsyncIterator[dict[str, Any]]],
                  after: str | None) -> AsyncGenerator[BoardEvent, None]:
    """Hands on the fan-out's entries, counted as one open subscription while it runs; a board
    error (too many subscriptions, entries missed) ends it with its code."""
    ctx = of(info)
    ctx.principal.require("agent", "operator", "reader", "public")
    metrics = ctx.request.app.state.metrics
    source = None
    metrics.subscriptions.inc()
    try:
        source = opener(after=after, holder=ctx.principal.holder)
        async for entry in source:
            yield BoardEvent.of(entry)
    except errors.BoardError as exc:
        raise api_errors.graphql_error(exc) from None
    finally:
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
    async def task_created(self, info: strawberry.Info, team: str | None = None, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, functools.partial(_fanout().created_events, team), after):
            yield event

    @strawberry.subscription(description="A task's status changes (give id), or every task's of a team: wait here "
                                         "for a result.")
    async def task_updated(self, info: strawberry.Info, id: strawberry.ID | None = None,
                           team: str | None = None, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        if id is None and team is None:
            raise errors.InvalidInput("give the task's id or a team")
        async for event in _events(info, functools.partial(_fanout().task_events, team,
                                                           None if id is None else str(id)), after):
            yield event

    @strawberry.subscription(description="Each consciousness snapshot as the beat writes it.")
    async def consciousness_updates(self, info: strawberry.Info, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, _fanout().consciousness_events, after):
            yield event

    @strawberry.subscription(description="Hormone events: cascades spreading from agent to agent.")
    async def hormone_event(self, info: strawberry.Info, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, _fanout().hormone_events, after):
            yield event
