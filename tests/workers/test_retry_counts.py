"""A deadlock that ``board/db.py`` retries is counted (``phoenix_db_retries_total{reason="deadlock"}``),
as the agents count it: a real deadlock between a named query and another session."""

from __future__ import annotations

import threading

import psycopg
from prometheus_client import REGISTRY

from phoenix_board.board.db import Database
from phoenix_board.metrics import worker as worker_metrics
from tests.conftest import make_agent, wait_for, waiting_on_lock


def retries(reason: str) -> float:
    return REGISTRY.get_sample_value("phoenix_db_retries_total", {"reason": reason}) or 0.0


def test_a_retried_deadlock_is_counted(url, sql):
    first, second = make_agent_pair(url)
    before = retries("deadlock")
    with Database(url, min_size=1, max_size=1, name="phoenix-deadlock-test") as db, \
            psycopg.connect(url) as other:
        db.on_retry = worker_metrics.count_db_retry
        other.execute("SET deadlock_timeout = '60s'")  # the named query, not this session, detects it
        other.execute("UPDATE phoenix.agents SET role = role WHERE id = %s", (second,))
        done: list[int] = []
        # decays every agent in heap order: locks the first, then waits for the second
        worker = threading.Thread(target=lambda: done.append(db.one("hormones_decay_all", half_life=60.0, now=None)["n"]))
        worker.start()
        wait_for(lambda: waiting_on_lock(sql, "%hormones_decay_all%") == 1, what="the decay to wait for the second agent")
        other.execute("UPDATE phoenix.agents SET role = role WHERE id = %s", (first,))  # the cycle: 40P01
        other.commit()
        worker.join(timeout=60)
    assert done == [2]  # the retry went through once the other session committed
    assert retries("deadlock") == before + 1


def make_agent_pair(url: str):  # type: ignore[no-untyped-def]
    with Database(url, min_size=1, max_size=1) as db:
        return make_agent(db, codename="lock-a").id, make_agent(db, codename="lock-b").id
