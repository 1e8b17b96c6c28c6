"""PostgreSQL and the broker away together (one host's outage takes both): a batch a worker holds
is never discarded. It used to be: the task's retry could not be published, and Celery rejected
the original without requeue, losing all 20 submissions the client had been told were sent."""

from __future__ import annotations

import pytest
import redis

from phoenix_board.workers import delivery
from phoenix_board.harness.faults.rig import open_rig, probe_task, wait_until
from tests.harness.faults.conftest import LEASE

pytestmark = pytest.mark.slow  # real processes (pools, servers, `up`): many seconds a test (tests/README.md)

BATCH = 20


def test_a_batch_held_through_a_database_and_broker_outage_arrives_whole(private_postgres, tmp_path):
    server, url = private_postgres
    with open_rig(url, tmp_path / "rig", LEASE) as rig:
        pool = rig.start_pool(1)
        broker = redis.Redis.from_url(rig.broker_url)
        queue = rig.settings.board_queue()

        server.stop()  # PostgreSQL away first: the worker takes the batch and cannot write it
        keys = rig.submit([probe_task(f"outage {i}") for i in range(BATCH)], batch=BATCH)
        wait_until(lambda: broker.llen(queue) == 0 and broker.hlen("unacked") == 1, 60, "the worker to take the batch")

        rig.valkey.stop()  # then the broker: the held message can be neither retried nor requeued
        wait_until(lambda: "requeued phoenix.submit_many message" in pool.log.read_text(),
                   delivery.HARD_LIMIT_SECONDS + 30, "the worker to give the batch back")
        server.start()
        rig.valkey.start()

        # everything the client was told it sent reaches the board, once, and is worked
        wait_until(lambda: all(rig.client.status(k) is not None for k in keys),
                   delivery.REDELIVERY_BOUND_SECONDS + 90, "every submission of the batch on the board")
        wait_until(lambda: all(rig.client.status(k).status == "complete" for k in keys), 120, "the batch completed")
        # (through wait_until: the rig's own pooled connections met the restart too)
        assert wait_until(lambda: sum(r["n"] for r in rig.db.all("faults_by_status")) or None, 30, "a count") == BATCH


def test_separate_submissions_held_through_a_database_outage_arrive_once(private_postgres, tmp_path):
    # one message each: the worker's consumer writes them in batches (workers/batching.py); a batch
    # that finds no database is held, then every message of it goes back to the queue
    server, url = private_postgres
    with open_rig(url, tmp_path / "rig", LEASE) as rig:
        pool = rig.start_pool(3)
        broker = redis.Redis.from_url(rig.broker_url)
        queue = rig.settings.board_queue()

        server.stop()
        keys = [rig.client.submit(probe_task(f"outage {i}")) for i in range(BATCH)]
        wait_until(lambda: broker.llen(queue) == 0 and broker.hlen("unacked") == BATCH, 60,
                   "the worker to take every submission")
        wait_until(lambda: "requeued submit message" in pool.log.read_text(),
                   delivery.HARD_LIMIT_SECONDS + 30, "the worker to give a batch back")
        server.start()

        wait_until(lambda: all(rig.client.status(k) is not None for k in keys),
                   delivery.REDELIVERY_BOUND_SECONDS + 90, "every submission on the board")
        wait_until(lambda: all(rig.client.status(k).status == "complete" for k in keys), 120, "all completed")
        assert wait_until(lambda: sum(r["n"] for r in rig.db.all("faults_by_status")) or None, 30, "a count") == BATCH
        assert broker.hlen("unacked") == 0
