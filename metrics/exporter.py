"""``/metrics``: the board's figures read from PostgreSQL at every scrape, plus the counters of
processes that share ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, for
Celery's prefork pools), in one registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import redis
from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings
from phoenix_board.metrics.collectors import BoardCollector


def queue_depth(settings: Settings, teams: Callable[[], list[str]]) -> Callable[[], dict[str, int]]:
    """Reads the length of the board's Celery queues from the broker, when one is configured."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)

    def depth() -> dict[str, int]:
        names = [settings.board_queue(), settings.beat_queue(), *(settings.team_queue(t) for t in teams())]
        return {name: int(client.llen(name)) for name in names}

    return depth


def registry(db: Database, settings: Settings, replica: Database | None = None) -> CollectorRegistry:
    reg = CollectorRegistry()
    depth = queue_depth(settings, lambda: [r["name"] for r in db.all("teams_list")]) if settings.redis_url else None
    reg.register(BoardCollector(db, depth, replica, settings.pause_alert_seconds))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(reg)
    return reg


def serve(db: Database, settings: Settings, port: int, addr: str = "0.0.0.0",  # type: ignore[no-untyped-def]
          replica: Database | None = None):
    """Starts the HTTP server in a thread; returns (server, thread)."""
    return start_http_server(port, addr=addr, registry=registry(db, settings, replica))
