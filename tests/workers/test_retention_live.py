"""Retention while agents work (docs/operations/retention.md): real pools claim and complete tasks
while batches prune the finished ones; nothing live is lost (every task completes exactly once,
whether it was pruned afterwards or not), no agent meets a deadlock, and `audit verify` holds."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from phoenix_board.board import audit, retention
from tests.conftest import make_task, wait_for


def count(sql, query: str, *params) -> int:
    return sql.execute(query, params).fetchone()["n"]


@pytest.mark.slow
def test_pruning_while_pools_work_loses_nothing_live_and_the_chains_verify(pools, db, sql):
    pools.start("iota", agents=2, name="p1")
    pools.start("iota", agents=2, name="p2")
    first = [make_task(db, title=f"a{i}", team="iota", category="noop").id for i in range(60)]
    wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'") >= 30,
             timeout=120, what="work done before the prune starts")

    # the clock of the prune is moved 40 days on, so whatever has finished by now is old enough
    now = datetime.now(UTC) + timedelta(days=40)
    cutoff = retention.cutoff(30, now)
    stop = threading.Event()
    results: list[retention.PruneResult] = []
    failures: list[BaseException] = []

    def prune_loop() -> None:
        while not stop.is_set():
            try:
                results.append(retention.prune(db, cutoff, batch=5, now=now))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return

    pruner = threading.Thread(target=prune_loop)
    pruner.start()
    second = []
    try:
        for i in range(60):
            second.append(make_task(db, title=f"b{i}", team="iota", category="noop").id)
        every = first + second
        wait_for(lambda: count(sql, "SELECT count(*) AS n FROM phoenix.outbox WHERE topic = 'task.completed' "
                                    "AND task_id = ANY (%s)", every) == len(every),
                 timeout=180, what="every task completed")
    finally:
        stop.set()
        pruner.join(timeout=120)
    assert not failures, failures
    pruned = sum(r.tasks for r in results)
    assert pruned > 0
    # nothing live was lost: each task completed exactly once (the outbox keeps what pruning took)
    done_once = count(sql, "SELECT count(*) AS n FROM (SELECT task_id FROM phoenix.outbox WHERE topic = 'task.completed' "
                           "AND task_id = ANY (%s) GROUP BY task_id HAVING count(*) = 1) o", every)
    assert done_once == len(every)
    left = count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE id = ANY (%s)", every)
    assert left + pruned == len(every)
    assert count(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE id = ANY (%s) AND status <> 'complete'", every) == 0
    report = audit.verify(db)
    assert report.ok, [b.describe() for b in report.broken]
    assert report.checkpoints >= 1
    for name in ("p1", "p2"):
        assert "deadlock" not in pools.log(name).lower()
