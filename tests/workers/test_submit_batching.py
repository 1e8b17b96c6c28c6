"""Separate submit messages waiting together are written in one transaction (workers/batching.py),
and each message keeps its own fate: real worker processes, a real broker and the test's database.

The batches are made deterministic with a lock: while a test holds the team's row, a submission's
insert waits on it (its foreign key check), so the worker's first batches wait in their pool
processes and the messages that arrive meanwhile are held together by the consumer. Rows inserted
by one transaction share their time (``now()``, the transaction's start)."""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from collections.abc import Iterator

import psutil
import psycopg
import pytest
import redis

from phoenix_board.workers import batching
from tests.conftest import wait_for, waiting_on_lock

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)

TEAM = "iota"
N = 30  # well under batching.BATCH_MAX: all that waits goes in one batch


def count(sql, query: str, **params) -> int:
    return sql.execute(query, params).fetchone()["n"]


def transactions(sql) -> int:
    # now() is the time its transaction started, in every savepoint of it: the submissions' event
    # rows (task_events is append-only) show one time per transaction. Not xmin: each submission of
    # a batch runs in a savepoint, and rows inserted there carry the savepoint's own xid
    return count(sql, "SELECT count(DISTINCT at) AS n FROM phoenix.task_events WHERE kind = 'submitted'")


def held_team(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url)
    conn.execute("SELECT name FROM phoenix.teams WHERE name = %s FOR UPDATE", (TEAM,))
    return conn


def all_taken(broker: redis.Redis, queue: str, n: int) -> bool:
    # kombu's Redis transport keeps delivered, unacknowledged messages in the hash "unacked"
    return broker.llen(queue) == 0 and broker.hlen("unacked") == n


@contextlib.contextmanager
def batches_in_hand(client, env, url, sql) -> Iterator[tuple[psycopg.Connection, list[str], redis.Redis, str]]:
    """A pool of 3 agents started: the team's row held, the first batches waiting on it in their pool
    processes and N more submissions held by the consumer. -> (the lock's connection, every
    submission's key, the broker, the queue)"""
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents") == 3, what="the agents")
    broker = redis.Redis.from_url(env["PHOENIX_REDIS_URL"])
    queue = client.settings.board_queue()
    task = {"team": TEAM, "category": "noop"}
    with held_team(url) as holder:
        keys = [client.submit({**task, "title": f"first {i}"}) for i in range(batching.IN_FLIGHT_MAX)]
        wait_for(lambda: waiting_on_lock(sql) == batching.IN_FLIGHT_MAX, what="the first batches to wait")
        keys += [client.submit({**task, "title": f"held {i}"}) for i in range(N)]
        wait_for(lambda: all_taken(broker, queue, len(keys)), what="the worker to hold every message")
        yield holder, keys, broker, queue


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_waiting_submissions_commit_together_and_each_keeps_its_fate(pools, client, env, url, sql, pool):
    name = f"batcher-{pool}"
    pools.start(TEAM, agents=3, name=name, extra=("--pool", pool))
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.agents") == 3, what="the agents")
    broker = redis.Redis.from_url(env["PHOENIX_REDIS_URL"])
    queue = client.settings.board_queue()
    task = {"team": TEAM, "category": "noop"}
    with held_team(url) as holder:
        # the first two become batches of one each (batching.IN_FLIGHT_MAX) and wait on the lock
        keys = [client.submit({**task, "title": f"first {i}"}) for i in range(batching.IN_FLIGHT_MAX)]
        wait_for(lambda: waiting_on_lock(sql) == batching.IN_FLIGHT_MAX, what="the first batches to wait")
        keys += [client.submit({**task, "title": f"held {i}"}) for i in range(N)]
        # a redelivered message: the same key again, in the same batch
        client.submit({**task, "title": "held 0"}, keys[-N])
        # refused ones, each alone: a malformed body, and a team that does not exist
        client.app.send_task("phoenix.submit", kwargs={"body": {"title": 5, "team": TEAM}}, queue=queue)
        client.app.send_task("phoenix.submit", kwargs={"body": {"title": "x", "team": "nowhere",
                                                                "idempotency_key": str(uuid.uuid4())}}, queue=queue)
        sent = len(keys) + 3
        wait_for(lambda: all_taken(broker, queue, sent), what="the worker to hold every message")
        assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks") == 0
        holder.rollback()  # the lock goes: the first batches commit, then the rest as one

    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks") == len(keys), what="the tasks")
    wait_for(lambda: broker.hlen("unacked") == 0, what="every message acknowledged or rejected")
    # the two waiting batches, then everything that arrived meanwhile: three transactions for 32 tasks
    assert transactions(sql) == batching.IN_FLIGHT_MAX + 1
    assert count(sql, "SELECT count(DISTINCT idempotency_key) AS n FROM phoenix.tasks") == len(keys)
    log = pools.log(name)
    refusals = [line for line in log.splitlines() if "rejected submit message:" in line]
    assert len(refusals) == 2, refusals
    assert any("nowhere" in line for line in refusals) and all(len(line) < 500 for line in refusals)
    # wake-ups still go out: the woken agents work the whole board
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'") == len(keys),
             what="the tasks completed")
    assert broker.llen(queue) == 0 and broker.hlen("unacked") == 0


def test_a_pool_process_killed_under_a_batch_requeues_it_and_nothing_is_lost(pools, client, env, url, sql):
    proc = pools.start(TEAM, agents=3, name="killed")
    with batches_in_hand(client, env, url, sql) as (holder, keys, broker, queue):
        # every pool process dies, the two writing a batch among them; the main process lives
        children = psutil.Process(proc.pid).children()
        for child in children:
            child.kill()
        psutil.wait_procs(children, timeout=10)
        wait_for(lambda: "pool process ended under them" in pools.log("killed"), what="the batches requeued")
        holder.rollback()

    # the requeued messages come back to the same worker's new processes; each task once
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'") == len(keys),
             what="every task on the board and completed")
    assert count(sql, "SELECT count(DISTINCT idempotency_key) AS n FROM phoenix.tasks") == len(keys)
    assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks") == len(keys)
    wait_for(lambda: broker.llen(queue) == 0 and broker.hlen("unacked") == 0, what="the queue drained")
    assert proc.poll() is None


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_warm_shutdown_writes_the_batches_in_hand_and_gives_back_the_held_messages(pools, client, env, url, sql,
                                                                                   pool):
    """SIGTERM while batches are being written and more messages are held: the batches commit and
    are acknowledged, the held messages go back to the queue at once (not after the broker's
    visibility timeout), and another worker writes them."""
    proc = pools.start(TEAM, agents=3, name=f"stopping-{pool}", extra=("--pool", pool))
    with batches_in_hand(client, env, url, sql) as (holder, keys, broker, queue):
        # `celery inspect reserved` lists the batches being written, each with its number of messages
        replies = client.app.control.inspect(timeout=5).reserved() or {}
        batches = [r for reserved in replies.values() for r in reserved if r["name"] == "phoenix.submit_batch"]
        assert sorted(b["kwargs"]["messages"] for b in batches) == [1] * batching.IN_FLIGHT_MAX, replies
        # and `inspect phoenix_submissions` what the consumer holds besides
        held = [reply for answer in client.app.control.broadcast("phoenix_submissions", reply=True, timeout=5)
                for reply in answer.values()]
        assert held == [{"held": len(keys), "waiting": N, "batches_in_flight": batching.IN_FLIGHT_MAX}], held
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)  # the worker begins its warm shutdown while the batches still wait
        holder.rollback()
        proc.wait(timeout=60)
    # nothing left unacknowledged: the written ones acknowledged, the held ones back in the queue
    assert broker.hlen("unacked") == 0
    assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks") + broker.llen(queue) == len(keys)
    pools.start(TEAM, agents=1, name="after")
    wait_for(lambda: count(sql, "SELECT count(DISTINCT idempotency_key) AS n FROM phoenix.tasks") == len(keys),
             what="every submission on the board")
    assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks") == len(keys)
