"""Subscriptions over real websockets (graphql-transport-ws) to a real server process, fed by a
real relay process from the test's database through a Valkey of its own: a subscriber sees a
task that a Celery agent created; a server restarted mid-subscription loses nothing for a client
that resumes from the last id it saw; a Redis restart is survived by an open subscription."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phoenix_board.api import client as api_client
from phoenix_board.api import tokens
from phoenix_board.board import comments, errors, teams, votes
from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings
from phoenix_board.workers.client import Client
from tests.api.conftest import start_server
from tests.conftest import free_port, start_cli, stop_cli, wait_ready
from tests.api.streams import RELAY
from tests.conftest import _database
from tests.conftest import make_agent, make_task
from tests.conftest import Pools, Valkey

MAX_SUBSCRIPTIONS = 2
CREATED = """subscription($team: String, $after: String) {
  taskCreated(team: $team, after: $after) { id topic taskId payload } }"""
UPDATED = """subscription($id: ID, $after: String) {
  taskUpdated(id: $id, after: $after) { id taskId payload } }"""


@dataclasses.dataclass
class Board:
    db: Database
    env: dict[str, str]
    valkey: Valkey
    tmp: Path
    port: int
    server: subprocess.Popen | None = None
    relay: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_server(self) -> None:
        log = self.tmp / "server.log"
        self.server = start_server(self.env, log, self.port)
        wait_ready(self.base, self.server, log)

    def stop_cli(self) -> None:
        if self.server is not None:
            stop_cli(self.server)
            self.server = None

    def start_relay(self) -> None:
        self.relay = start_cli(RELAY, self.env, self.tmp / "relay.log")

    def stop_relay(self) -> None:
        if self.relay is not None:
            stop_cli(self.relay)
            self.relay = None


@pytest.fixture(scope="module")
def board(server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    tmp = tmp_path_factory.mktemp("subs")
    valkey = Valkey(tmp / "valkey")
    valkey.start()
    try:
        with _database(server_url, template_db) as url, Database(url, min_size=1, max_size=4, name="subs-test") as db:
            env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": valkey.url,
                   "PHOENIX_DATA_DIR": str(tmp / "data"), "PHOENIX_API_TOKEN_CACHE_SECONDS": "0",
                   "PHOENIX_QUEUE_PREFIX": "subs", "PHOENIX_LEASE_SECONDS": "30",
                   "PHOENIX_IDLE_POLL_SECONDS": "0.5", "PHOENIX_WORKER_METRICS_PORT": "0",
                   "PHOENIX_API_MAX_SUBSCRIPTIONS": str(MAX_SUBSCRIPTIONS)}
            b = Board(db, env, valkey, tmp, free_port())
            b.start_relay()
            b.start_server()
            try:
                yield b
            finally:
                b.stop_cli()
                b.stop_relay()
    finally:
        valkey.stop()


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=180))


async def _take(events: Any, n: int) -> list[dict[str, Any]]:
    out = []
    async for data in events:
        out.append(next(iter(data.values())))
        if len(out) == n:
            break
    return out


def _team(db: Database) -> str:
    name = f"s{os.urandom(4).hex()}"
    teams.create(db, name)
    return name


def test_a_subscriber_sees_a_task_a_celery_agent_created(board: Board):
    team = _team(board.db)
    reader = tokens.create(board.db, "reader").token
    pools = Pools(board.env, board.tmp)
    pools.start(team=team, agents=1)
    settings = Settings(database_url=board.env["PHOENIX_DATABASE_URL"], redis_url=board.valkey.url,
                        queue_prefix="subs", data_dir=Path(board.env["PHOENIX_DATA_DIR"]))
    try:
        async def scenario():
            # after "0-0": from the stream's start, so the subscription cannot begin after the task
            events = api_client.subscribe(board.base, reader, CREATED, {"team": team, "after": "0-0"})
            with Client(settings) as queue:
                await asyncio.to_thread(queue.submit, {"title": "made by a Celery agent", "team": team})
            return await _take(events, 1)

        [event] = _run(scenario())
    finally:
        pools.stop()
    assert event["topic"] == "task.created" and event["payload"]["title"] == "made by a Celery agent"
    row = board.db.fetch_sql("SELECT e.agent_id FROM phoenix.task_events e WHERE e.task_id = %(id)s AND kind = 'submitted'",
                             {"id": event["taskId"]})
    assert row  # the pool's worker wrote it: the message went through Celery, not through the API


def test_a_client_resuming_after_a_server_restart_misses_nothing(board: Board):
    team = _team(board.db)
    reader = tokens.create(board.db, "reader").token

    async def first_part() -> dict[str, Any]:
        events = api_client.subscribe(board.base, reader, CREATED, {"team": team, "after": "0-0"})
        make_task(board.db, team=team, title="before the restart")
        [seen] = await _take(events, 1)
        return seen

    seen = _run(first_part())
    board.stop_cli()
    for title in ("while it was down 1", "while it was down 2"):
        make_task(board.db, team=team, title=title)
    board.start_server()

    async def second_part() -> list[dict[str, Any]]:
        events = api_client.subscribe(board.base, reader, CREATED, {"team": team, "after": seen["id"]})
        got = await _take(events, 2)
        make_task(board.db, team=team, title="after the restart")
        return got + await _take(events, 1)

    titles = [e["payload"]["title"] for e in _run(second_part())]
    assert titles == ["while it was down 1", "while it was down 2", "after the restart"]


def test_a_subscription_outlives_a_redis_restart(board: Board):
    team = _team(board.db)
    reader = tokens.create(board.db, "reader").token

    async def scenario() -> list[dict[str, Any]]:
        events = api_client.subscribe(board.base, reader, CREATED, {"team": team, "after": "0-0"})
        make_task(board.db, team=team, title="before Redis restarted")
        got = await _take(events, 1)
        await asyncio.to_thread(board.valkey.stop)
        await asyncio.to_thread(board.valkey.start)  # same port, its data kept (append-only file)
        make_task(board.db, team=team, title="after Redis restarted")
        return got + await _take(events, 1)

    titles = [e["payload"]["title"] for e in _run(scenario())]
    assert titles == ["before Redis restarted", "after Redis restarted"]


def test_a_task_followed_by_id_reports_its_changes(board: Board):
    task = make_task(board.db, team=_team(board.db), title="followed")
    operator = tokens.create(board.db, "operator").token

    async def scenario() -> list[dict[str, Any]]:
        # after "0-0": a cancel before the subscription is in is replayed, not missed
        events = api_client.subscribe(board.base, operator, UPDATED, {"id": str(task.id), "after": "0-0"})
        first = asyncio.ensure_future(_take(events, 1))
        with api_client.GraphQLClient(board.base, operator) as gql:
            await asyncio.to_thread(gql.execute, "mutation($id: ID!) { cancelTask(taskId: $id) { cancelled } }",
                                    {"id": str(task.id)})
        return await first

    [event] = _run(scenario())
    assert (event["taskId"], event["payload"]["status"]) == (str(task.id), "cancelled")


def test_subscribing_needs_a_valid_token(board: Board):
    async def refused() -> None:
        await _take(api_client.subscribe(board.base, None, CREATED, {}), 1)

    with pytest.raises(api_client.Unauthenticated):
        _run(refused())

    async def revoked() -> None:
        made = tokens.create(board.db, "reader")
        tokens.revoke(board.db, made.id)
        await _take(api_client.subscribe(board.base, made.token, CREATED, {}), 1)

    with pytest.raises(api_client.Unauthenticated):
        _run(revoked())


def test_a_token_holds_at_most_its_subscriptions(board: Board):
    team = _team(board.db)
    make_task(board.db, team=team, title="seen by each")
    reader = tokens.create(board.db, "reader").token

    async def scenario() -> tuple[int, str]:
        held = []
        for _ in range(MAX_SUBSCRIPTIONS):  # each has its first event: it is in, and counted
            events = api_client.subscribe(board.base, reader, CREATED, {"team": team, "after": "0-0"})
            await _take(events, 1)
            held.append(events)
        with pytest.raises(errors.Forbidden) as refused:
            await _take(api_client.subscribe(board.base, reader, CREATED, {"team": team, "after": "0-0"}), 1)
        other = tokens.create(board.db, "reader").token  # another token is not limited by these
        got = await _take(api_client.subscribe(board.base, other, CREATED, {"team": team, "after": "0-0"}), 1)
        await held[0].aclose()  # closing one frees its place once the server sees the socket close
        for _ in range(300):
            try:
                got += await _take(api_client.subscribe(board.base, reader, CREATED, {"team": team, "after": "0-0"}), 1)
                break
            except errors.Forbidden:
                await asyncio.sleep(0.1)
        return len(got), refused.value.code

    assert _run(scenario()) == (2, "TOO_MANY_SUBSCRIPTIONS")


VOTED = """subscription($id: ID, $team: String, $after: String) {
  taskVoted(id: $id, team: $team, after: $after) { id topic taskId payload } }"""
COMMENTED = """subscription($id: ID, $after: String) {
  taskCommented(id: $id, after: $after) { id topic taskId payload } }"""


def test_votes_and_comments_reach_who_may_read_the_task(board: Board):
    """A reader following a task hears of its votes and comments; an agent token hears only of its
    own team's, though the stream carries every team's."""
    seen_team, hidden_team = _team(board.db), _team(board.db)
    seen, hidden = make_task(board.db, team=seen_team), make_task(board.db, team=hidden_team)
    voter = make_agent(board.db, team=hidden_team)
    follower = make_agent(board.db, team=seen_team)
    reader = tokens.create(board.db, "reader").token
    agent_token = tokens.create(board.db, "agent", agent=follower.codename).token

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        on_task = api_client.subscribe(board.base, reader, VOTED, {"id": str(hidden.id), "after": "0-0"})
        comments_on_task = api_client.subscribe(board.base, reader, COMMENTED, {"id": str(hidden.id), "after": "0-0"})
        own_team = api_client.subscribe(board.base, agent_token, VOTED, {"after": "0-0"})  # scoped to seen_team
        got = [asyncio.ensure_future(_take(s, 1)) for s in (on_task, comments_on_task, own_team)]
        await asyncio.to_thread(votes.vote, board.db, hidden.id, voter.id, 1)
        await asyncio.to_thread(comments.add, board.db, hidden.id, voter.id, "on the hidden team's task")
        await asyncio.to_thread(votes.vote, board.db, seen.id, voter.id, -1)
        return tuple([await g for g in got])

    on_task, comments_on_task, own_team = _run(scenario())
    assert [(e["taskId"], e["payload"]["upvotes"], e["payload"]["score"]) for e in on_task] == [(str(hidden.id), 1, 1)]
    assert [(e["topic"], e["payload"]["comment_count"]) for e in comments_on_task] == [("task.commented", 1)]
    # the first vote (on the other team's task) never reached the agent token: its first entry is the later one
    assert [(e["taskId"], e["payload"]["score"]) for e in own_team] == [(str(seen.id), -1)]
    with pytest.raises(errors.Forbidden):
        _run(_take(api_client.subscribe(board.base, agent_token, VOTED, {"team": hidden_team}), 1))
