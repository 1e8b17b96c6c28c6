"""Consumers of the event stream: consumer groups, reclaiming, dead letters (docs/concepts/event-stream.md).

A :class:`Consumer` reads one topic in a consumer group (XREADGROUP) and acknowledges what its
handler accepted. An entry left pending longer than the visibility timeout (its consumer died or is
stuck) is taken over by whichever consumer of the group polls next (XAUTOCLAIM, which also counts
the delivery). An entry delivered more than ``max_deliveries`` times goes to ``<topic>.dlq`` with
its origin and is acknowledged, so one poison message does not block the group.

Delivery is at least once: a handler that fails or dies after its work but before the ack sees the
entry again. Each event carries its ``event_id`` (stable across relay restarts) and, for task.*,
the task's ``seq``, for handlers that must be idempotent or drop stale events.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

import redis

from phoenix_board.board import constants, errors, outbox
from phoenix_board.workers import stream

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Event:
    topic: str
    entry_id: str
    event_id: str
    task_id: str | None
    seq: int | None
    at: str
    payload: dict[str, Any]
    fields: dict[str, str]

    @classmethod
    def from_entry(cls, topic: str, entry_id: Any, raw: dict[Any, Any]) -> Event:
        f = {_text(k): _text(v) for k, v in raw.items()}
        return cls(topic=topic, entry_id=_text(entry_id), event_id=f.get("event_id", ""),
                   task_id=f.get("task_id") or None, seq=int(f["seq"]) if f.get("seq") else None,
                   at=f.get("at", ""), payload=json.loads(f.get("payload") or "{}"), fields=f)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Consumer:
    def __init__(self, client: redis.Redis, topic: str, group: str, name: str, *,
                 visibility_timeout_ms: int = int(constants.STREAM_VISIBILITY_TIMEOUT_SECONDS * 1000),
                 max_deliveries: int = constants.STREAM_MAX_DELIVERIES, count: int = 100) -> None:
        self.redis = client
        self.topic = outbox.check_topic(topic)
        self.group = group
        self.name = name
        self.visibility_timeout_ms = visibility_timeout_ms
        self.max_deliveries = max_deliveries
        self.count = count
        self.dlq = topic + outbox.DLQ_SUFFIX
        self._ensure_group()

    def _ensure_group(self) -> None:
        # from the start of what the stream retains: a new group sees the retained history
        try:
            self.redis.xgroup_create(self.topic, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def poll(self, handler: Callable[[Event], None], block_ms: int | None = None) -> int:
        """Reclaimed entries first, then new ones; -> entries handled successfully"""
        try:
            done = self._reclaim(handler)
            reply = self.redis.xreadgroup(self.group, self.name, {self.topic: ">"}, count=self.count, block=block_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._ensure_group()  # Redis lost the stream and its groups (restart without persistence)
            return 0
        except redis.RedisError as exc:
            raise errors.Unavailable(f"consumer cannot reach Redis: {exc}") from exc
        for _key, entries in reply or []:
            for entry_id, raw in entries:
                done += self._handle(handler, entry_id, raw)
        return done

    def _reclaim(self, handler: Callable[[Event], None]) -> int:
        done = 0
        _next, claimed, deleted = self.redis.xautoclaim(self.topic, self.group, self.name,
                                                        min_idle_time=self.visibility_timeout_ms,
                                                        start_id="0-0", count=self.count)[:3]
        if deleted:  # trimmed by retention while pending: nothing left to deliver
            self.redis.xack(self.topic, self.group, *deleted)
        for entry_id, raw in claimed:
            if raw is None:
                continue
            pending = self.redis.xpending_range(self.topic, self.group, min=entry_id, max=entry_id, count=1)
            deliveries = pending[0]["times_delivered"] if pending else 0
            if deliveries > self.max_deliveries:
                self._dead_letter(entry_id, raw, deliveries)
            else:
                done += self._handle(handler, entry_id, raw)
        return done

    def _handle(self, handler: Callable[[Event], None], entry_id: Any, raw: dict[Any, Any]) -> int:
        try:
            handler(Event.from_entry(self.topic, entry_id, raw))
        except Exception:  # any handler failure: leave it pending, it comes back after the timeout
            log.exception("handler failed on %s %s; it will be redelivered", self.topic, _text(entry_id))
            return 0
        self.redis.xack(self.topic, self.group, entry_id)
        return 1

    def _dead_letter(self, entry_id: Any, raw: dict[Any, Any], deliveries: int) -> None:
        fields = {_text(k): _text(v) for k, v in raw.items()}
        fields |= {"origin_topic": self.topic, "origin_id": _text(entry_id), "group": self.group,
                   "deliveries": str(deliveries)}
        minid = stream.now_ms() - int(constants.STREAM_DLQ_RETENTION_SECONDS * 1000)
        # one round trip, and the ack only together with the dead letter
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.dlq, fields, minid=minid, approximate=True)
        pipe.xack(self.topic, self.group, entry_id)
        pipe.execute()
        log.warning("%s %s failed %d deliveries: moved to %s", self.topic, _text(entry_id), deliveries, self.dlq)
