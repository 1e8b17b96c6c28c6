"""The server's one reader of the event stream, fanned out in memory to its subscribers.

The relay (workers/stream.py) publishes each outbox topic to a Redis stream. A server process runs
one :class:`Hub`: one task, one connection, one blocking ``XREAD`` over every topic the API
serves, handing each entry to the queues of the subscribers whose filter it matches. No
subscriber reads Redis or polls PostgreSQL; 500 subscribers cost one read.

Entries are dicts: ``id`` (the stream entry id, ``<ms>-<seq>``), ``event_id``, ``topic``,
``task_id``, ``seq``, ``at`` (ISO time) and ``payload`` (a dict; for ``task.updated``, one entry per
change after the submission, it holds the event's ``kind`` and the task's ``status`` after it).

What a subscriber is promised. Within one subscription: every entry of its topic that matches, in
stream order, once. Across a reconnect (server restarted, connection dropped): a subscriber that
passes ``after=<the last id it saw>`` gets everything after it from Redis first, then the live
entries, with nothing doubled; if Redis no longer holds some of them (trimmed by retention, or a
subscriber too slow to keep up), it gets :class:`Missed` instead, which says from where, and should
re-read the state it follows (e.g. the task) and subscribe again without ``after``.

Redis restarted: the reader reconnects and goes on from the last id it handed out; the relay
re-publishes what Redis lost with the same ids (workers/stream.py), and ids at or below the
reader's position were already delivered, so nothing is doubled or lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
import redis
import redis.asyncio as aredis

from phoenix_board.board import constants, errors, lifecycle
from phoenix_board.board.db import Database, redact

log = logging.getLogger(__name__)

CREATED = "task.created"
UPDATED = "task.updated"
VOTED = "task.voted"
COMMENTED = "task.commented"
CONSCIOUSNESS = "consciousness.update"
HORMONE = "hormone.cascade"
TOPICS = (CREATED, UPDATED, VOTED, COMMENTED, CONSCIOUSNESS, HORMONE)
ENDED = frozenset({"complete", "failed", "cancelled"})  # the statuses a task does not leave by itself

READ_BLOCK_MS = 1000  # one XREAD waits this long for news: the stop and reconnect latency
READ_COUNT = 1000  # entries per XREAD per topic
QUEUE_SIZE = 10_000  # entries waiting for one subscriber before it counts as too slow
REPLAY_PAGE = 500  # entries per XRANGE when a subscriber resumes
RECONNECT_MAX_SECONDS = 5.0


class TooManySubscriptions(errors.Forbidden):
    """This token holds as many subscriptions as it may (api_max_subscriptions): close one first."""


class Missed(errors.Conflict):
    """The subscriber cannot be given every entry it asked for; re-read what it follows and subscribe again."""


def _id(text: str) -> tuple[int, int]:
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def entry(topic: str, entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    try:
        payload = json.loads(fields.get("payload") or "{}")
    except ValueError:
        payload = {}
    seq = fields.get("seq") or ""
    return {"id": entry_id, "event_id": fields.get("event_id") or None, "topic": topic,
            "task_id": fields.get("task_id") or None, "seq": int(seq) if seq.isdigit() else None,
            "at": fields.get("at") or None, "payload": payload}


@dataclasses.dataclass(eq=False)
class Subscriber:
    topic: str
    match: Callable[[dict[str, Any]], bool]
    queue: asyncio.Queue
    holder: str | None
    overflowed: bool = False


class Hub:
    """One per server process: ``await hub.start()`` in the app's lifespan, ``await hub.stop()`` after."""

    def __init__(self, redis_url: str, db: Database | None = None, *, max_per_holder: int = 20,
                 queue_size: int = QUEUE_SIZE) -> None:
        self.redis_url = redis_url
        self.db = db
        self.max_per_holder = max_per_holder
        self.queue_size = queue_size
        self.positions: dict[str, str] = {}
        self.subscribers: dict[str, set[Subscriber]] = {t: set() for t in TOPICS}
        self.held: dict[str, int] = {}
        self.connected = False  # for /readyz: the reader holds a live Redis connection
        self._task: asyncio.Task | None = None
        self._client: aredis.Redis | None = None
        self._started = asyncio.Event()

    def client(self) -> aredis.Redis:
        if self._client is None:
            self._client = aredis.Redis.from_url(self.redis_url, decode_responses=True, socket_connect_timeout=5,
                                                 socket_timeout=READ_BLOCK_MS / 1000 + 5)
        return self._client

    async def start(self) -> None:
        self._task = asyncio.create_task(self._read_forever(), name="phoenix-event-stream")
        with contextlib.suppress(TimeoutError):
            # positions are taken before serving, so an early subscriber misses nothing; if Redis is
            # away the server still starts, and the reader keeps trying
            await asyncio.wait_for(self._started.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
        for subs in self.subscribers.values():
            for sub in subs:
                sub.overflowed = True
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.put_nowait(None)

    async def _positions(self) -> None:
        """Each topic's last entry id now (0-0 for a stream not there yet): the reader starts after it."""
        client = self.client()
        for topic in TOPICS:
            if topic in self.positions:
                continue  # after a reconnect: go on from the last id handed out
            last = await client.xrevrange(topic, count=1)
            self.positions[topic] = last[0][0] if last else "0-0"

    async def _read_forever(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._positions()
                self.connected = True
                self._started.set()
                delay = 0.1
                while True:
                    found = await self.client().xread(dict(self.positions), count=READ_COUNT, block=READ_BLOCK_MS)
                    for topic, entries in found or ():
                        for entry_id, fields in entries:
                            self.positions[topic] = entry_id
                            self._fan_out(entry(topic, entry_id, fields))
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                if self.connected:
                    log.warning("event stream: lost Redis at %s (%s); reconnecting", redact(self.redis_url), exc)
                self.connected = False
                if self._client is not None:
                    with contextlib.suppress(Exception):
                        await self._client.aclose()
                    self._client = None
                await asyncio.sleep(delay)
                delay = min(RECONNECT_MAX_SECONDS, delay * 2)

    def _fan_out(self, event: dict[str, Any]) -> None:
        for sub in list(self.subscribers[event["topic"]]):
            if sub.overflowed or not sub.match(event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.overflowed = True  # told when it reaches the end of what it has

    def register(self, topic: str, match: Callable[[dict[str, Any]], bool], holder: str | None) -> Subscriber:
        if holder is not None:
            if self.held.get(holder, 0) >= self.max_per_holder:
                raise TooManySubscriptions(f"this token already holds {self.max_per_holder} subscriptions "
                                           "(api_max_subscriptions): close one first")
            self.held[holder] = self.held.get(holder, 0) + 1
        sub = Subscriber(topic, match, asyncio.Queue(self.queue_size), holder)
        self.subscribers[topic].add(sub)
        return sub

    def unregister(self, sub: Subscriber) -> None:
        if sub in self.subscribers[sub.topic]:
            self.subscribers[sub.topic].discard(sub)
            if sub.holder is not None:
                left = self.held.get(sub.holder, 1) - 1
                if left > 0:
                    self.held[sub.holder] = left
                else:
                    self.held.pop(sub.holder, None)

    async def _replay(self, sub: Subscriber, after: str) -> AsyncIterator[dict[str, Any]]:
        """Entries of the topic after ``after`` that Redis holds, or Missed if it lost some."""
        start = _id(after)
        client = self.client()
        try:
            info = await client.xinfo_stream(sub.topic)
        except redis.ResponseError:
            info = None  # no stream: nothing was published, or Redis lost it and the relay re-sends it
        except (redis.RedisError, OSError) as exc:
            raise errors.Unavailable(f"cannot reach Redis to resume: {exc}") from None
        if info is not None:
            # XDEL records the highest id it removed; trimming (retention) records nothing, but the
            # stream then holds fewer entries than were added, from its first entry on
            deleted = _id(info.get("max-deleted-entry-id") or "0-0")
            first = info.get("first-entry")
            trimmed = int(info.get("entries-added") or 0) > int(info.get("length") or 0) + (1 if deleted > (0, 0) else 0)
            if deleted > start or (trimmed and first and _id(first[0]) > start):
                raise Missed(f"entries of {sub.topic} after {after} are gone (stream retention "
                             f"{constants.STREAM_RETENTION_SECONDS[sub.topic]:.0f} s, or deleted): "
                             "re-read what you follow and subscribe again without after")
        cursor = f"({after}"
        while True:
            try:
                page = await client.xrange(sub.topic, min=cursor, max="+", count=REPLAY_PAGE)
            except (redis.RedisError, OSError) as exc:
                raise errors.Unavailable(f"cannot reach Redis to resume: {exc}") from None
            for entry_id, fields in page:
                event = entry(sub.topic, entry_id, fields)
                if sub.match(event):
                    yield event
            if len(page) < REPLAY_PAGE:
                return
            cursor = f"({page[-1][0]}"

    async def events(self, topic: str, match: Callable[[dict[str, Any]], bool], *, after: str | None = None,
                     holder: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Matching entries of ``topic`` from now (or after ``after``) until the caller stops."""
        try:
            last = _id(after) if after else (0, -1)
        except ValueError:
            raise errors.InvalidInput(f"after {after!r} is not a stream entry id (<ms>-<seq>)") from None
        sub = self.register(topic, match, holder)
        try:
            if after:
                async for event in self._replay(sub, after):
                    last = _id(event["id"])
                    yield event
            while True:
                if sub.overflowed and sub.queue.empty():
                    raise Missed(f"this subscriber fell behind by more than {self.queue_size} entries; resume "
                                 f"with after={'-'.join(map(str, last)) if last[1] >= 0 else 'the last id you saw'}")
                event = await sub.queue.get()
                if event is None:
                    raise errors.Unavailable("the server is stopping: reconnect and resume with after=<last id>")
                entry_id = _id(event["id"])
                if entry_id <= last:
                    continue  # already given by the replay
                last = entry_id
                yield event
        finally:
            self.unregister(sub)

    async def wait_for_end(self, task_id: Any, seconds: float) -> str | None:
        """The task's status once it has ended (complete, failed, cancelled), or None if ``seconds`` pass first.
        Subscribes first, then reads the status once: a task that ended before the subscription
        is seen by the read, one that ends after it by the subscription."""
        wanted = str(task_id)
        sub = self.register(UPDATED, lambda e: e["task_id"] == wanted, None)
        try:
            if self.db is not None:
                task = await anyio.to_thread.run_sync(lifecycle.get, self.db, task_id)
                if task.status in ENDED:
                    return task.status
            with anyio.move_on_after(max(0.0, seconds)):
                while True:
                    event = await sub.queue.get()
                    if event is None:
                        return None
                    status = event["payload"].get("status")
                    if status in ENDED:
                        return status
            return None
        finally:
            self.unregister(sub)


_hub: Hub | None = None


def redis_url_of(settings: Any) -> str:
    from phoenix_board.workers import broker  # the embedded Valkey's address, as the relay finds it

    url = settings.redis_url or broker.running_embedded(settings.data_dir)
    if not url:
        raise errors.Unavailable("no Redis for the event stream: set PHOENIX_REDIS_URL, or start `phoenix-board up`")
    return url


async def start(settings: Any, db: Database | None = None) -> Hub:
    """Starts this process's hub (the app's lifespan calls it once); ``db`` serves wait_for_end's re-check."""
    global _hub
    if _hub is not None:
        await _hub.stop()
    _hub = Hub(redis_url_of(settings), db, max_per_holder=int(getattr(settings, "api_max_subscriptions", 20)))
    await _hub.start()
    return _hub


async def stop() -> None:
    global _hub
    if _hub is not None:
        await _hub.stop()
        _hub = None


def hub() -> Hub:
    if _hub is None:
        raise errors.Unavailable("the event stream is not running in this server")
    return _hub


# --- what the schema's Subscription resolvers use -----------------------------------------


def task_events(team: str | None = None, task_id: Any = None, *, after: str | None = None,
                holder: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Status changes (``task.updated``) of one task, or of every task of a team, or of all."""
    return _of_task(UPDATED, team, task_id, after, holder)


def _of_task(topic: str, team: str | None, task_id: Any, after: str | None,
             holder: str | None) -> AsyncIterator[dict[str, Any]]:
    wanted = None if task_id is None else str(task_id)

    def match(e: dict[str, Any]) -> bool:
        return (wanted is None or e["task_id"] == wanted) and (team is None or e["payload"].get("team") == team)

    return hub().events(topic, match, after=after, holder=holder)


def vote_events(team: str | None = None, task_id: Any = None, *, after: str | None = None,
                holder: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Votes (``task.voted``) on one task or its comments, or on every task of a team, or of all."""
    return _of_task(VOTED, team, task_id, after, holder)


def comment_events(team: str | None = None, task_id: Any = None, *, after: str | None = None,
                   holder: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Comments and replies (``task.commented``) on one task, or on every task of a team, or of all."""
    return _of_task(COMMENTED, team, task_id, after, holder)


def created_events(team: str | None = None, *, after: str | None = None,
                   holder: str | None = None) -> AsyncIterator[dict[str, Any]]:
    return hub().events(CREATED, lambda e: team is None or e["payload"].get("team") == team, after=after, holder=holder)


def consciousness_events(*, after: str | None = None, holder: str | None = None) -> AsyncIterator[dict[str, Any]]:
    return hub().events(CONSCIOUSNESS, lambda e: True, after=after, holder=holder)


def hormone_events(*, after: str | None = None, holder: str | None = None) -> AsyncIterator[dict[str, Any]]:
    return hub().events(HORMONE, lambda e: True, after=after, holder=holder)


async def wait_for_end(task_id: Any, seconds: float) -> str | None:
    """createTask(waitSeconds): the task's ended status, or None when the wait ran out."""
    return await hub().wait_for_end(task_id, seconds)
