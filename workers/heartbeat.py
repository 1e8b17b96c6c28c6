"""Agents' heartbeats: a thread of their process that keeps ``last_heartbeat`` fresh and renews the
agents' hold (workers/identity.py), and copies each beat to the event stream. A prefork process
beats for its one agent; a thread pool's process beats for all its agents in one statement and one
stream pipeline per round (``beat_pool_until_stopped``), not one connection or call per agent."""

from __future__ import annotations

import logging
from collections.abc import Sequence
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


def beat_pool_until_stopped(db: Database, agents_: Sequence[tuple[UUID, str]], holder: UUID, settings: Settings) -> None:
    """Every ``heartbeat_seconds`` until the process stops, for all the (id, team) agents of a
    thread pool's process. An agent it no longer holds (another process took it: the pool's hold
    lapsed) stops the whole process's claiming, as a refused beat stops a prefork process: all of
    them are held by one token, so another pool with this prefix runs now."""
    url = settings.redis_url or broker.running_embedded(settings.data_dir)
    streams = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) if url else None
    ids = [agent for agent, _ in agents_]
    while not state.stop.wait(settings.heartbeat_seconds):
        try:
            lost = agents.heartbeat_many(db, ids, holder)
        except errors.BoardError as exc:
            log.warning("heartbeat failed: %s", exc.message)
            continue
        if lost:
            log.error("heartbeat refused for %d of %d agents (another process holds them now); this process "
                      "claims no more", len(lost), len(ids))
            state.stop.set()
            return
        if streams is not None:
            try:
                with streams.pipeline(transaction=False) as pipe:
                    for agent, team in agents_:
                        stream.publish_heartbeat(pipe, agent, team)
                    pipe.execute()
            except redis.RedisError as exc:  # the stream's copy is best effort; PostgreSQL has it
                log.debug("heartbeats not published: %s", exc)
