"""What an agent token may follow: the stream is read once for everyone, so its subscriptions are
limited when they open: its own team's tasks, or one task its agent may see."""

from __future__ import annotations

import asyncio

import pytest
import redis

from phoenix_board.api import client as api_client
from phoenix_board.board import errors, lifecycle
from phoenix_board.workers import stream
from tests.conftest import make_agent, make_task

CREATED = "subscription($team: String) { taskCreated(team: $team) { id } }"
UPDATED = "subscription($id: ID, $team: String) { taskUpdated(id: $id, team: $team) { id } }"


def first_event(api, token: str, query: str, variables: dict) -> dict:
    async def one() -> dict:
        async for data in api_client.subscribe(api.base, token, query, variables):
            return data
        return {}

    return asyncio.run(asyncio.wait_for(one(), timeout=60))


def test_an_agent_token_follows_only_its_own_team_and_tasks_it_may_see(api):
    mine, other = api.team(), api.team()
    agent = make_agent(api.db, team=mine)
    token = api.token("agent", agent=agent.codename)
    stranger = make_agent(api.db, team=other)
    hidden = make_task(api.db, team=other)
    lifecycle.claim(api.db, stranger.id)
    with pytest.raises(errors.Forbidden):
        first_event(api, token, CREATED, {"team": other})
    with pytest.raises(errors.Forbidden):
        first_event(api, token, UPDATED, {"team": other})
    with pytest.raises(errors.NotFound):
        first_event(api, token, UPDATED, {"id": str(hidden.id)})
    # neither id nor team: every task's for an operator, its own team's for an agent token
    own = make_task(api.db, team=mine)
    assert lifecycle.claim(api.db, agent.id).id == own.id
    relay = stream.Relay(api.url, redis.Redis.from_url(api.env["PHOENIX_REDIS_URL"]))  # this module runs none
    try:
        assert relay.acquire()
        relay.drain()
    finally:
        relay.close()
    every = "subscription($after: String) { taskUpdated(after: $after) { taskId payload } }"
    seen = first_event(api, token, every, {"after": "0-0"})["taskUpdated"]
    assert (seen["taskId"], seen["payload"]["team"]) == (str(own.id), mine)
    assert first_event(api, api.token("operator"), every, {"after": "0-0"})["taskUpdated"]["taskId"]
