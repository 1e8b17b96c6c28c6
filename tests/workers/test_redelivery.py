"""A worker whose main process is SIGKILLed while it holds a message (its host is lost): the
broker gives the message to another worker within ``delivery.REDELIVERY_BOUND_SECONDS``, where it
used to wait for a 300 s visibility timeout and a sweep every 100 s."""

from __future__ import annotations

import os
import signal
import time

import psycopg
import pytest
import redis

from phoenix_board.workers import delivery
from tests.conftest import wait_for, waiting_on_lock

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)


def test_a_killed_workers_message_is_delivered_again_within_the_bound(pools, client, env, url, sql):
    first = pools.start("iota", agents=1, name="doomed")
    wait_for(lambda: sql.execute("SELECT count(*) AS n FROM phoenix.agents").fetchone()["n"] == 1, what="the agent")
    broker = redis.Redis.from_url(env["PHOENIX_REDIS_URL"])
    with psycopg.connect(url) as holder:
        # the team's row locked: a submission's insert waits on it (its foreign key check), while
        # claims, heartbeats and the idle poller, which insert nothing, go on
        holder.execute("SELECT name FROM phoenix.teams WHERE name = 'iota' FOR UPDATE")
        key = client.submit({"title": "held when its host died", "team": "iota", "category": "noop"})
        wait_for(lambda: broker.llen(client.settings.board_queue()) == 0 and broker.hlen("unacked") == 1,
                 what="the worker to take the submission")
        wait_for(lambda: waiting_on_lock(sql, "%task_submit%") == 1, what="the submission to wait on the lock")
        os.killpg(first.pid, signal.SIGKILL)  # the main and its pool process: nothing acks or rejects
        killed = time.monotonic()
        first.wait(timeout=10)
        # a lost host's connections drop too; PostgreSQL would otherwise finish the waiting
        # statement once the lock is free, and commit it for a client that is gone
        holder.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database() AND query LIKE '%task_submit%'")
    assert client.status(key) is None  # the dead worker's statement did not commit

    pools.start("iota", agents=1, name="rescuer")
    # the bound, with room for a slow machine; the old settings took about 300 s
    wait_for(lambda: client.status(key) is not None, timeout=delivery.REDELIVERY_BOUND_SECONDS + 40,
             what="another worker to take the message again")
    print(f"redelivered {time.monotonic() - killed:.1f} s after the SIGKILL")
    wait_for(lambda: client.status(key).status == "complete", what="the task completed")
    assert broker.hlen("unacked") == 0
    assert sql.execute("SELECT count(*) AS n FROM phoenix.tasks").fetchone()["n"] == 1
