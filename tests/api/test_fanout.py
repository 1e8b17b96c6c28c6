"""The event stream's fan-out in a server process (api/subscriptions.py), against the real relay,
a Valkey of the test's own and the test's database: every subscriber gets what matches, once, in
order; a resumed subscriber gets what it missed or is told; a Redis that lost everything is
survived; wait_for_end sees a task end before or after it began waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis

from phoenix_board.api import subscriptions
from phoenix_board.board import lifecycle
from phoenix_board.workers import stream
from tests.api.streams import relay_until, take
from tests.conftest import make_agent, make_task
from tests.conftest import wipe
from tests.conftest import Valkey


@pytest.fixture
def relay(url: str, valkey: Valkey) -> Iterator[stream.Relay]:  # noqa: F811
    r = stream.Relay(url, redis.Redis.from_url(valkey.url, decode_responses=True))
    assert r.acquire()
    yield r
    r.close()


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


def test_each_subscriber_gets_what_matches_once_in_order(db, valkey, relay):  # noqa: F811
    agent = make_agent(db, team="alpha_delta")

    async def scenario():
        hub = subscriptions.Hub(valkey.url, db)
        await hub.start()
        try:
            team = hub.events(subscriptions.CREATED, lambda e: e["payload"]["team"] == "alpha_delta")
            every = hub.events(subscriptions.UPDATED, lambda e: True)
            got_team = asyncio.ensure_future(take(team, 1))
            got_every = asyncio.ensure_future(take(every, 2))
            await asyncio.sleep(0)  # both registered before anything is published
            first = make_task(db, title="one")
            make_task(db, title="other team", team="iota")
            claimed = lifecycle.claim(db, agent.id)
            assert claimed is not None and claimed.id == first.id
            lifecycle.result(db, claimed.id, agent.id, claimed.attempt, {"ok": True})
            await relay_until(relay, got_team, got_every)
            return got_team.result(), got_every.result(), first
        finally:
            await hub.stop()

    team, every, first = _run(scenario())
    assert [e["payload"]["title"] for e in team] == ["one"] and team[0]["task_id"] == str(first.id)
    # a submission is task.created's alone; task.updated has each change after it
    assert [(e["payload"]["title"], e["payload"]["kind"], e["payload"]["status"]) for e in every] == [
        ("one", "claimed", "claimed"), ("one", "completed", "complete")]
    ids = [subscriptions._id(e["id"]) for e in every]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_a_resumed_subscriber_gets_what_it_missed_then_live_ones(db, valkey, relay):  # noqa: F811
    async def scenario():
        hub = subscriptions.Hub(valkey.url, db)
        await hub.start()
        try:
            first = hub.events(subscriptions.CREATED, lambda e: True)
            got = asyncio.ensure_future(take(first, 1))
            await asyncio.sleep(0)
            make_task(db, title="seen")
            await relay_until(relay, got)
            seen = got.result()[0]
            # the client goes away; two tasks are created while it is gone
            make_task(db, title="missed 1")
            make_task(db, title="missed 2")
            relay.drain()
            resumed = hub.events(subscriptions.CREATED, lambda e: True, after=seen["id"])
            got = asyncio.ensure_future(take(resumed, 3))
            await asyncio.sleep(0.2)
            make_task(db, title="live")
            await relay_until(relay, got)
            return got.result()
        finally:
            await hub.stop()

    assert [e["payload"]["title"] for e in _run(scenario())] == ["missed 1", "missed 2", "live"]


def test_a_subscriber_resuming_past_what_redis_still_holds_is_told(db, valkey, relay):  # noqa: F811
    async def scenario():
        hub = subscriptions.Hub(valkey.url, db)
        await hub.start()
        try:
            for title in ("old", "kept", "newest"):
                make_task(db, title=title)
            relay.drain()
            client = redis.Redis.from_url(valkey.url, decode_responses=True)
            old, kept, _ = client.xrange(subscriptions.CREATED)
            client.xtrim(subscriptions.CREATED, minid=kept[0], approximate=False)  # as retention would
            for after in ("0-1", old[0]):  # trimming records no ids: from before the first held, told
                with pytest.raises(subscriptions.Missed, match="are gone"):
                    await take(hub.events(subscriptions.CREATED, lambda e: True, after=after), 1)
            with pytest.raises(Exception, match="not a stream entry id"):
                await take(hub.events(subscriptions.CREATED, lambda e: True, after="yesterday"), 1)
            # resuming from an entry still held is fine
            return await take(hub.events(subscriptions.CREATED, lambda e: True, after=kept[0]), 1)
        finally:
            await hub.stop()

    assert [e["payload"]["title"] for e in _run(scenario())] == ["newest"]


def test_redis_losing_everything_neither_doubles_nor_loses_entries(db, valkey, relay):  # noqa: F811
    async def scenario():
        hub = subscriptions.Hub(valkey.url, db)
        await hub.start()
        try:
            events = hub.events(subscriptions.CREATED, lambda e: True)
            got = asyncio.ensure_future(take(events, 1))
            await asyncio.sleep(0)
            make_task(db, title="before")
            await relay_until(relay, got)
            before = got.result()
            rest = asyncio.ensure_future(take(events, 2))
            wipe(valkey)
            valkey.start()  # same port, no data
            make_task(db, title="after 1")
            make_task(db, title="after 2")
            relay.redis = redis.Redis.from_url(valkey.url, decode_responses=True)
            await relay_until(relay, rest)
            return before + rest.result()
        finally:
            await hub.stop()

    assert [e["payload"]["title"] for e in _run(scenario())] == ["before", "after 1", "after 2"]


def test_wait_for_end_sees_an_end_before_or_after_it_began(db, valkey, relay):  # noqa: F811
    agent = make_agent(db, team="alpha_delta")

    async def scenario():
        hub = subscriptions.Hub(valkey.url, db)
        await hub.start()
        try:
            task = make_task(db)
            assert await hub.wait_for_end(task.id, 0.2) is None  # open: the wait runs out
            claimed = lifecycle.claim(db, agent.id)
            waiting = asyncio.ensure_future(hub.wait_for_end(task.id, 60))
            await asyncio.sleep(0.2)
            lifecycle.result(db, task.id, agent.id, claimed.attempt, {"answer": 42})
            await relay_until(relay, waiting)
            after = await hub.wait_for_end(task.id, 0)  # ended before the wait: the one re-check sees it
            return waiting.result(), after
        finally:
            await hub.stop()

    assert _run(scenario()) == ("complete", "complete")


def test_subscriptions_per_token_are_limited(db, valkey):  # noqa: F811
    async def scenario():
        hub = subscriptions.Hub(valkey.url, db, max_per_holder=2)
        await hub.start()
        try:
            a = hub.events(subscriptions.CREATED, lambda e: True, holder="token:1")
            b = hub.events(subscriptions.CREATED, lambda e: True, holder="token:1")
            pending = [asyncio.ensure_future(take(s, 1)) for s in (a, b)]
            await asyncio.sleep(0.1)
            with pytest.raises(subscriptions.TooManySubscriptions):
                await take(hub.events(subscriptions.CREATED, lambda e: True, holder="token:1"), 1)
            other = asyncio.ensure_future(take(hub.events(subscriptions.CREATED, lambda e: True, holder="token:2"), 1))
            await asyncio.sleep(0.1)
            assert hub.held == {"token:1": 2, "token:2": 1}
            pending[0].cancel()
            await asyncio.sleep(0.1)
            assert hub.held == {"token:1": 1, "token:2": 1}  # a closed subscription frees its place
            for p in (pending[1], other):
                p.cancel()
        finally:
            await hub.stop()

    _run(scenario())
