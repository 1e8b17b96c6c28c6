"""`phoenix-board events relay` (PostgreSQL's outbox → Redis streams) and `phoenix-board events
tail` (print the streams). docs/concepts/event-stream.md."""

from __future__ import annotations

import json
import logging
import threading
from typing import Optional

import redis
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from phoenix_board.board import constants, errors, outbox
from phoenix_board.board.db import redact
from phoenix_board.board.session import open_board
from phoenix_board.board.settings import Settings
from phoenix_board.cli import render, toolkit
from phoenix_board.workers import broker, consumer, stream

log = logging.getLogger(__name__)

app = typer.Typer(help="The event stream: relay the outbox to Redis streams, print the streams.",
                  no_args_is_help=True)


def redis_client(s: Settings, url: str | None = None) -> redis.Redis:
    """The given URL, else the configured Redis, or the running embedded Valkey."""
    url = url or s.redis_url or broker.running_embedded(s.data_dir)
    if not url:
        raise errors.Unavailable("no Redis: set PHOENIX_REDIS_URL, or start `phoenix-board up` for the embedded one")
    client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise errors.Unavailable(f"cannot reach Redis at {redact(url)}: {exc}") from None
    return client


@app.command("relay")
def relay_cmd(
    once: bool = typer.Option(False, "--once", help="Publish everything committed so far, then exit."),
    interval: float = typer.Option(1.0, "--interval", min=0.05, max=60.0, help="Seconds between passes."),
    batch: int = typer.Option(constants.STREAM_RELAY_BATCH, "--batch", min=1, max=10_000,
                              help="Events per XADD pipeline and per UPDATE."),
) -> None:
    """Publish committed events from PostgreSQL to Redis streams (one relay at a time; others wait)."""
    s = toolkit.settings()
    client = redis_client(s)
    stop = threading.Event()
    with open_board(s, max_size=1, wait_for_schema=not once) as db, stream.Relay(db.url, client, batch=batch) as relay:
        if once:
            if not relay.acquire():
                raise errors.Conflict("another relay holds the relay lock; it publishes for everyone")
            backlog, _ = outbox.lag(db)
            with Progress(TextColumn("publishing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=render.err_console, transient=True) as bar:
                task = bar.add_task("relay", total=backlog or None)
                total = stream.Pass()
                while True:
                    step = relay.run_once()
                    bar.advance(task, step.published + step.already)
                    total.published += step.published
                    total.already += step.already
                    total.republished += step.republished
                    if step.assigned == 0 and step.published == 0 and step.already == 0:
                        break
            render.console.print(f"published {total.published}, already in Redis {total.already}, "
                                 f"re-published after a Redis loss {total.republished}")
            return
        try:
            while True:
                try:
                    if relay.acquire():
                        relay.run_once()
                    else:
                        log.info("another relay is publishing; standing by")
                except errors.Unavailable as exc:
                    # Redis or PostgreSQL away: nothing is lost; a new session (and lock) next time
                    log.warning("%s; retrying", exc.message)
                    relay.close()
                if stop.wait(interval):
                    return
        except KeyboardInterrupt:
            return


def _line(event: consumer.Event) -> str:
    task = f" task={event.task_id} seq={event.seq}" if event.task_id else ""
    agent = f" agent={event.fields['agent_id']}" if event.fields.get("agent_id") else ""
    payload = json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
    return f"{event.entry_id} {event.topic} event={event.event_id}{task}{agent} {payload}"


@app.command("tail")
def tail_cmd(
    topic: Optional[list[str]] = typer.Option(None, "--topic", "-t", help="A topic (repeatable); default all."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events as they arrive."),
    count: int = typer.Option(100, "--count", "-n", min=1, max=100_000, help="Past events per topic to print."),
) -> None:
    """Print the latest events of the streams (oldest first), then with --follow the new ones."""
    topics = [outbox.check_topic(t) for t in topic] if topic else list(outbox.TOPICS)
    s = toolkit.settings()
    # the broker `queue` and `workers` find: the configured one, the running embedded Valkey, or
    # the embedded one started for this command (its append-only file keeps the streams)
    with broker.broker_url(s) as url:
        _tail(redis_client(s, url), topics, follow, count)


def _tail(client: redis.Redis, topics: list[str], follow: bool, count: int) -> None:
    last: dict[str, str] = {}
    try:
        for t in topics:
            recent = list(reversed(client.xrevrange(t, count=count)))
            for entry_id, raw in recent:
                typer.echo(_line(consumer.Event.from_entry(t, entry_id, raw)))
            last[t] = recent[-1][0] if recent else "0-0"
        while follow:
            for key, found in client.xread(last, block=5000) or []:
                for entry_id, raw in found:
                    typer.echo(_line(consumer.Event.from_entry(key, entry_id, raw)))
                    last[key] = entry_id
    except KeyboardInterrupt:
        return
    except redis.RedisError as exc:
        raise errors.Unavailable(f"lost Redis while tailing: {exc}") from None
