"""Subscription (graphql-transport-ws): the board's changes as the relay publishes them.

Each field hands on the entries of API-B's in-memory fan-out (``api/subscriptions.py``), which
reads each Redis stream once per server process; nothing here polls PostgreSQL. An entry is the
relay's (``workers/stream.py``): its stream id, event id, topic, task, sequence, time, payload.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from phoenix_board.api import errors as api_errors
from phoenix_board.api.schema.context import of
from phoenix_board.board import agents, errors, lifecycle


AfterArg = Annotated[str | None, strawberry.argument(
    description="Resume: the `id` of the last event you saw (after a reconnect). Entries the stream no longer "
                "holds end the subscription with EVENTS_MISSED: re-read what you follow, then subscribe again.")]


@strawberry.type(description="One entry of the event stream (docs/concepts/event-stream.md).")
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


async def _scoped(info: strawberry.Info, team: str | None, task_id: str | None) -> str | None:
    """The team an agent token's task subscription is limited to (None: not an agent token).

    The stream is read once per server for everyone, so it cannot apply row-level security entry
    by entry; an agent token follows only its own team's tasks, or one task that row-level
    security lets it see when it subscribes (checked then, with one read)."""
    ctx = of(info)
    if ctx.principal.kind != "agent":
        return team
    if task_id is not None:
        await ctx.read(lifecycle.get, task_id)  # NOT_FOUND unless its agent may see it
        return team
    own = (await ctx.read(agents.get, str(ctx.principal.agent_id))).team
    if team not in (None, own):
        raise errors.Forbidden(f"an agent token follows only its own team's tasks ({own}), not {team}'s")
    return own


async def _events(info: strawberry.Info, opener: Callable[..., AsyncIterator[dict[str, Any]]],
                  after: str | None) -> AsyncGenerator[BoardEvent, None]:
    """Hands on the fan-out's entries, counted as one open subscription while it runs; a board
    error (not allowed, too many subscriptions, entries missed) ends it with its code."""
    ctx = of(info)
    metrics = ctx.request.app.state.metrics
    source = None
    metrics.subscriptions.inc()
    try:
        ctx.principal.require("agent", "member", "operator", "reader", "public")
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


def _after_scope(info: strawberry.Info, task_id: str | None, source: Callable[[], Any], team: str | None,
                 *rest: Any) -> Callable[..., AsyncIterator[dict[str, Any]]]:
    """An opener that first limits the subscription to what the token may follow (``_scoped``)."""

    async def opened(**kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        scoped = await _scoped(info, team, task_id)
        async for entry in source()(scoped, *rest, **kwargs):
            yield entry

    return opened


def _fanout() -> Any:
    from phoenix_board.api import subscriptions  # API-B's fan-out; imported when first used

    return subscriptions


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Tasks as they are submitted, of one team or all.")
    async def task_created(self, info: strawberry.Info, team: str | None = None, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, _after_scope(info, None, lambda: _fanout().created_events, team), after):
            yield event

    @strawberry.subscription(description="A task's status changes (give id: wait here for a result), or every "
                                         "task's of a team, or of all.")
    async def task_updated(self, info: strawberry.Info, id: strawberry.ID | None = None,
                           team: str | None = None, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        # every task's, as taskCreated and taskVoted allow: a board of many teams follows its
        # listing with one subscription, not one per team (each counts against the token's limit)
        task_id = None if id is None else str(id)
        async for event in _events(info, _after_scope(info, task_id, lambda: _fanout().task_events, team, task_id),
                                   after):
            yield event

    @strawberry.subscription(description="Votes on a task and its comments (give id), or on every task of a team, "
                                         "or of all: the payload holds the counts after the vote.")
    async def task_voted(self, info: strawberry.Info, id: strawberry.ID | None = None,
                         team: str | None = None, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        task_id = None if id is None else str(id)
        async for event in _events(info, _after_scope(info, task_id, lambda: _fanout().vote_events, team, task_id),
                                   after):
            yield event

    @strawberry.subscription(description="Comments and replies on a task (give id), or on every task of a team, or "
                                         "of all: ids and the task's comment count, never the text (read it).")
    async def task_commented(self, info: strawberry.Info, id: strawberry.ID | None = None,
                             team: str | None = None, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        task_id = None if id is None else str(id)
        async for event in _events(info, _after_scope(info, task_id, lambda: _fanout().comment_events, team, task_id),
                                   after):
            yield event

    @strawberry.subscription(description="Each consciousness snapshot as the beat writes it.")
    async def consciousness_updates(self, info: strawberry.Info, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, _fanout().consciousness_events, after):
            yield event

    @strawberry.subscription(description="Hormone events: cascades spreading from agent to agent.")
    async def hormone_event(self, info: strawberry.Info, after: AfterArg = None) -> AsyncGenerator[BoardEvent, None]:
        async for event in _events(info, _fanout().hormone_events, after):
            yield event
