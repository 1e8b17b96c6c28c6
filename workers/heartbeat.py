"""An agent's heartbeat: a thread of its pool process that keeps ``last_heartbeat`` fresh and
renews the agent's hold (workers/identity.py), and copies each beat to the event stream."""

from __future__ import annotations

import logging
from uuid import UUID

import redis

from phoenix_board.board import agents, errors
from phoenix_board.board.db import Database, acting_as
from phoenix_board.board.settings import Settings
from phoenix_board.workers import broker, stream
from phoenix_board.workers.process_state import state

log = logging.getLogger(__name__)


def beat_until_stopped(db: Database, agent_id: UUID, team: str, settings: Settings) -> None:
    """Every ``heartbeat_seconds`` until the process stops; a refused beat (another process took
    the agent) stops this process's claiming."""
    url = settings.redis_url or broker.running_embedded(settings.data_dir)
    streams = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) if url else None
    with acting_as(agent_id):
        while not state.stop.wait(settings.heartbeat_seconds):
            try:
                agents.heartbeat(db, agent_id, holder=state.holder)
            except errors.Conflict as exc:  # its hold lapsed and another process took the agent
                log.error("heartbeat refused: %s; this process claims no more", exc.message)
                state.stop.set()
                return
            except errors.BoardError as exc:
                log.warning("heartbeat failed: %s", exc.message)
                continue
            if streams is not None:
                try:
                    stream.publish_heartbeat(streams, agent_id, team)
                except redis.RedisError as exc:  # the stream's copy is best effort; PostgreSQL has it
                    log.debug("heartbeat not published: %s", exc)
