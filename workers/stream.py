"""The relay: PostgreSQL's outbox → one Redis stream per topic (docs/concepts/event-stream.md).

One pass: assign entry ids to rows that have committed, reconcile with Redis (a topic whose stream
lost its tail in a Redis restart gets that tail again from PostgreSQL), XADD what is unconfirmed
with its stored id and the topic's time retention (``MINID ~``), then mark those rows published.
Dying anywhere in between is harmless: the next pass re-sends the same ids and Redis refuses the
ones it holds, so no consumer sees an entry twice.

Only one relay may XADD at a time (a refused id is taken as "already there", which is sound only if
ids reach Redis in order), so a relay holds a session advisory lock while it runs; a second one
waits as a standby. Heartbeats skip the outbox: :func:`publish_heartbeat` adds them directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import psycopg
import redis
from psycopg.rows import dict_row

from phoenix_board.board import constants, errors, outbox

log = logging.getLogger(__name__)

LOCK_KEY = int.from_bytes(hashlib.sha256(b"phoenix_board.stream.relay").digest()[:8], "big", signed=True)
_REFUSED = "equal or smaller"  # Redis: "The ID specified in XADD is equal or smaller than the target stream top item"


def now_ms() -> int:
    return int(time.time() * 1000)


def _minid(topic: str, at_ms: int) -> int:
    return at_ms - outbox.retention_ms(topic)


def _parse_id(entry_id: str | bytes) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def fields(event: outbox.OutboxEvent) -> dict[str, str]:
    return {
        "event_id": str(event.id),
        "topic": event.topic,
        "task_id": "" if event.task_id is None else str(event.task_id),
        "seq": "" if event.seq is None else str(event.seq),
        "at": event.at.isoformat(),
        "payload": json.dumps(event.payload, separators=(",", ":"), sort_keys=True, default=str),
    }


def publish_heartbeat(client: redis.Redis, agent_id: Any, team: str, at: datetime | None = None) -> str:
    """One heartbeat straight onto its stream (Redis assigns the id; a lost one is replaced by the next)."""
    at = at or datetime.now(timezone.utc)
    return client.xadd(outbox.HEARTBEAT, {
        "event_id": uuid.uuid4().hex, "topic": outbox.HEARTBEAT, "agent_id": str(agent_id), "team": team,
        "at": at.isoformat(), "task_id": "", "seq": "", "payload": "{}",
    }, minid=_minid(outbox.HEARTBEAT, now_ms()), approximate=True)


@dataclasses.dataclass
class Pass:
    assigned: int = 0
    published: int = 0
    already: int = 0  # re-sent ids Redis already held (a relay died before marking them)
    republished: int = 0  # rows marked again because Redis lost them
    pruned: int = 0
    trimmed: int = 0  # stream entries past their topic's retention


class Relay:
    """Holds the relay lock on its own connection for as long as it is open."""

    def __init__(self, database_url: str, client: redis.Redis, batch: int = constants.STREAM_RELAY_BATCH,
                 clock: Callable[[], int] = now_ms) -> None:
        self.url = database_url
        self.redis = client
        self.batch = batch
        self.clock = clock
        self.conn: psycopg.Connection | None = None
        self.locked = False

    def acquire(self) -> bool:
        """True once this relay holds the lock; False while another relay does."""
        if self.conn is None:
            try:
                self.conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                            application_name="phoenix-relay")
            except psycopg.Error as exc:
                raise errors.Unavailable(f"relay cannot reach PostgreSQL: {exc}") from exc
        if not self.locked:
            self.locked = outbox.try_lock(self.conn, LOCK_KEY)
        return self.locked

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(errors.BoardError, psycopg.Error):
                outbox.unlock(self.conn, LOCK_KEY)
            self.conn.close()
            self.conn = None
        self.locked = False

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The steps of a pass, public so that a test can stop between them as a killed relay would.
    def assign(self) -> int:
        return outbox.assign(self._conn(), self.batch)

    def reconcile(self) -> int:
        """Topics whose Redis stream is behind PostgreSQL's record get their tail marked again."""
        marked = 0
        for topic in outbox.OUTBOX_TOPICS:
            head = outbox.published_head(self._conn(), topic)
            if head is None:
                continue
            held = self._redis_last(topic)
            if held < head:
                n = outbox.republish_after(self._conn(), topic, held, self.clock())
                if n:
                    log.warning("stream %s is behind PostgreSQL (has %s-%s, expected %s-%s): re-publishing %d",
                                topic, *held, *head, n)
                marked += n
        return marked

    def publish(self, events: list[outbox.OutboxEvent]) -> tuple[list[outbox.OutboxEvent], int]:
        """XADDs the events with their stored ids. -> (events Redis now holds, how many it already had)"""
        if not events:
            return [], 0
        at = self.clock()
        pipe = self.redis.pipeline(transaction=False)
        for e in events:
            pipe.xadd(e.topic, fields(e), id=e.entry_id, minid=_minid(e.topic, at), approximate=True)
        results = self._execute(pipe)
        held, refused = [], []
        for e, result in zip(events, results, strict=True):
            if isinstance(result, redis.ResponseError) and _REFUSED in str(result):
                refused.append(e)
            elif isinstance(result, Exception):
                # later ids of this pass must not count on this one: stop at the first failure
                log.error("XADD %s %s failed: %s", e.topic, e.entry_id, result)
                break
            else:
                held.append(e)
        already, lost = self._check_refused(refused, at)
        if lost:
            log.warning("%d event(s) refused by Redis but not in it: they get new ids", len(lost))
            outbox.reassign(self._conn(), lost)
        return held + already, len(already)

    def _check_refused(self, refused: list[outbox.OutboxEvent],
                       at: int) -> tuple[list[outbox.OutboxEvent], list[outbox.OutboxEvent]]:
        """A refused id is normally one a dead relay already sent. Redis says so only if the entry is
        there (or was old enough to be trimmed); otherwise a later id got in first (a partly failed
        pipeline), and re-sending this one under a new id is what delivers it, still once."""
        if not refused:
            return [], []
        pipe = self.redis.pipeline(transaction=False)
        for e in refused:
            pipe.xrange(e.topic, min=e.entry_id, max=e.entry_id, count=1)
        found = self._execute(pipe)
        already, lost = [], []
        for e, entry in zip(refused, found, strict=True):
            if isinstance(entry, Exception):
                raise errors.Unavailable(f"relay cannot read {e.topic}: {entry}")
            trimmed = e.stream_ms < _minid(e.topic, at)
            (already if entry or trimmed else lost).append(e)
        return already, lost

    def _execute(self, pipe: Any) -> list[Any]:
        try:
            return pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            raise errors.Unavailable(f"relay cannot reach Redis: {exc}") from exc

    def mark(self, events: list[outbox.OutboxEvent]) -> int:
        return outbox.mark_published(self._conn(), events) if events else 0

    def run_once(self) -> Pass:
        """One pass; the caller holds the lock (:meth:`acquire`)."""
        result = Pass(assigned=self.assign(), republished=self.reconcile())
        while True:
            events = outbox.pending(self._conn(), self.batch)
            if not events:
                break
            held, already = self.publish(events)
            self.mark(held)
            result.published += len(held) - already
            result.already += already
            if len(held) < len(events) or len(events) < self.batch:
                break
        result.trimmed = self.trim()
        for topic in outbox.OUTBOX_TOPICS:
            result.pruned += outbox.prune(self._conn(), topic, self.clock())
        return result

    def trim(self) -> int:
        """Exact time retention on every topic: XADD's ``MINID ~`` only drops whole radix-tree
        nodes (about 100 entries), so a quiet topic would keep old entries for ever without this."""
        at = self.clock()
        try:
            return sum(self.redis.xtrim(t, minid=_minid(t, at), approximate=False) for t in outbox.TOPICS)
        except redis.RedisError as exc:
            raise errors.Unavailable(f"relay cannot reach Redis: {exc}") from exc

    def drain(self) -> Pass:
        """Passes until nothing committed is left unpublished (tests, `events relay --once`)."""
        total = Pass()
        while True:
            step = self.run_once()
            for f in dataclasses.fields(Pass):
                setattr(total, f.name, getattr(total, f.name) + getattr(step, f.name))
            if step.assigned == 0 and step.published == 0 and step.already == 0:
                return total

    def _redis_last(self, topic: str) -> tuple[int, int]:
        try:
            info = self.redis.xinfo_stream(topic)
        except redis.ResponseError:
            return 0, 0  # no such key: Redis lost the stream, or nothing was ever published
        except redis.RedisError as exc:
            raise errors.Unavailable(f"relay cannot reach Redis: {exc}") from exc
        return _parse_id(info["last-generated-id"])

    def _conn(self) -> psycopg.Connection:
        if self.conn is None:
            raise RuntimeError("relay used before acquire()")
        return self.conn
