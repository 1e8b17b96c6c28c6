"""The event stream's PostgreSQL side: the outbox the relay publishes from (docs/concepts/event-stream.md).

Triggers write a row per event in the transaction of the fact it reports (sql/functions/
50_outbox.sql); this module reads and marks those rows for the relay in ``workers/stream.py``,
which owns the Redis side (board imports no Redis client).

Ordering rule: the relay never keeps a position cursor. It gives each row its stream entry id only
when the row is visible to it, i.e. committed, and publishes rows that have an id but are not yet
confirmed. A transaction that commits after a higher-id one has committed simply gets a later entry
id when it appears, so nothing committed is skipped, nothing rolled back is ever seen, and a long
writing transaction delays only its own rows.

Idempotence: the entry id is stored before the XADD, so a relay that dies between the XADD and
marking the row sends the same id again; Redis refuses an id that is not above the stream's last,
and the relay takes that refusal as "already there".
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from phoenix_board.board import constants, errors
from phoenix_board.board.db import Database, queries, translate

TOPICS = tuple(constants.STREAM_RETENTION_SECONDS)
HEARTBEAT = "agent.heartbeat"
# heartbeats go straight to Redis: frequent, not a transactional fact, the next one replaces a lost one
OUTBOX_TOPICS = tuple(t for t in TOPICS if t != HEARTBEAT)
DLQ_SUFFIX = ".dlq"


def check_topic(topic: str) -> str:
    if topic not in TOPICS:
        raise errors.InvalidInput(f"unknown topic {topic!r}: use one of {', '.join(TOPICS)}")
    return topic


def retention_ms(topic: str) -> int:
    return int(constants.STREAM_RETENTION_SECONDS[topic] * 1000)


@dataclasses.dataclass(frozen=True)
class OutboxEvent:
    id: int
    topic: str
    task_id: UUID | None
    seq: int | None
    payload: dict[str, Any]
    at: datetime
    stream_ms: int
    stream_seq: int

    @property
    def entry_id(self) -> str:
        return f"{self.stream_ms}-{self.stream_seq}"


def _run(conn: psycopg.Connection, name: str, **params: Any) -> psycopg.Cursor:
    try:
        return conn.execute(queries()[name], params)
    except psycopg.Error as exc:
        raise translate(exc) from exc


def try_lock(conn: psycopg.Connection, key: int) -> bool:
    """The relay's session advisory lock on this connection; False when another relay holds it."""
    return bool(_run(conn, "outbox_try_lock", key=key).fetchone()["locked"])


def unlock(conn: psycopg.Connection, key: int) -> None:
    _run(conn, "outbox_unlock", key=key)


def assign(conn: psycopg.Connection, limit: int = constants.STREAM_RELAY_BATCH, now: datetime | None = None) -> int:
    """Entry ids for committed rows that have none yet. -> rows assigned"""
    return int(_run(conn, "outbox_assign", limit=limit, now=now).fetchone()["assigned"])


def pending(conn: psycopg.Connection, limit: int = constants.STREAM_RELAY_BATCH) -> list[OutboxEvent]:
    """Rows with an entry id that Redis has not confirmed, per topic in id order."""
    return [OutboxEvent(**row) for row in _run(conn, "outbox_pending", limit=limit).fetchall()]


def _entries(events: list[OutboxEvent]) -> dict[str, list[Any]]:
    """The events' entry ids as the statements take them: by topic and id, which the stream index holds."""
    return {"topics": [e.topic for e in events], "ms": [e.stream_ms for e in events],
            "seqs": [e.stream_seq for e in events]}


def mark_published(conn: psycopg.Connection, events: list[OutboxEvent], now: datetime | None = None) -> int:
    return _run(conn, "outbox_mark_published", **_entries(events), now=now).rowcount


def reassign(conn: psycopg.Connection, events: list[OutboxEvent]) -> int:
    return _run(conn, "outbox_reassign", **_entries(events)).rowcount


def published_head(conn: psycopg.Connection, topic: str) -> tuple[int, int] | None:
    row = _run(conn, "outbox_published_head", topic=topic).fetchone()
    return (row["stream_ms"], row["stream_seq"]) if row else None


def republish_after(conn: psycopg.Connection, topic: str, head: tuple[int, int], now_ms: int) -> int:
    """Marks a topic's rows above ``head`` (what Redis still holds) for publishing again."""
    return _run(conn, "outbox_republish_after", topic=topic, ms=head[0], seq=head[1],
                since_ms=now_ms - retention_ms(topic)).rowcount


def prune(conn: psycopg.Connection, topic: str, now_ms: int, limit: int = 1000) -> int:
    return _run(conn, "outbox_prune", topic=topic, before_ms=now_ms - retention_ms(topic), limit=limit).rowcount


def lag(db: Database, now: datetime | None = None) -> tuple[int, float]:
    """(committed events not yet in Redis, age in seconds of the oldest of them)."""
    row = db.one("outbox_lag", now=now)
    return int(row["unpublished"]), float(row["lag_seconds"])
