"""The event stream against the test's own PostgreSQL database and an embedded Valkey of its own
(persistent, restartable on the same port)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import psycopg
import pytest
import redis
from psycopg.types.json import Jsonb

from phoenix_board.board.db import queries
from phoenix_board.workers import stream
from tests.conftest import Valkey

_titles = itertools.count(1)


@pytest.fixture
def client(valkey: Valkey) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(valkey.url, decode_responses=True)
    yield c
    c.close()


@pytest.fixture
def relay(url: str, client: redis.Redis) -> Iterator[stream.Relay]:
    r = stream.Relay(url, client)
    assert r.acquire()
    yield r
    r.close()


def submit(conn: psycopg.Connection, title: str | None = None, team: str = "alpha_delta") -> str:
    """task_submit inside the caller's transaction (so the test decides commit or rollback)."""
    row = conn.execute(queries()["task_submit"], {
        "title": title or f"stream task {next(_titles)}", "description": "", "category": "general",
        "payload": Jsonb({}), "priority": 5, "team": team, "created_by": None, "dopamine_reward": 1.0,
        "max_attempts": 3, "review_quorum": 0, "depends_on": [], "deadline": None, "fibonacci_size": 1,
        "idempotency_key": None, "now": None, "needs_person": False, "not_before": None, "concurrency_key": None,
        "concurrency_limit": None,
    }).fetchone()
    return str(row["id"] if isinstance(row, dict) else row[0])
