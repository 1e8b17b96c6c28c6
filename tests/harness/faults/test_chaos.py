"""A bounded chaos run: while a producer sends submissions through the queue, pool processes are
SIGKILLed, a whole worker (its main process with its pool: a lost host) is SIGKILLed and replaced,
the broker restarts and PostgreSQL restarts. Then, counted from the database: every submission the
client was told was sent is on the board once, no task completed twice, and every task has ended
(complete, failed or cancelled) within ``SETTLE_BOUND_SECONDS`` of the last fault."""

from __future__ import annotations

import os
import signal
import threading
import time

import psycopg
import pytest

from phoenix_board.board import models
from phoenix_board.workers import delivery
from phoenix_board.harness.faults.rig import Rig, open_rig, probe_task, wait_until
from tests.harness.faults.conftest import LEASE

TASKS = 80
ENDED = (models.TaskStatus.COMPLETE, models.TaskStatus.FAILED, models.TaskStatus.CANCELLED)
# after the last fault: a message the lost host held comes back within the redelivery bound, a
# claim it held within the lease (then the retry backoff: 5 s, 10 s for a task killed twice),
# and the database restart costs a reconnect; the rest is the remaining work
SETTLE_BOUND_SECONDS = delivery.REDELIVERY_BOUND_SECONDS + 4 * LEASE + 60


class Producer(threading.Thread):
    """Sends batches of five, each retried with the same keys while the broker is away; a key
    counts as accepted once its send returned (the client was told it was sent)."""

    def __init__(self, rig: Rig) -> None:
        super().__init__(name="chaos-producer", daemon=True)
        self.rig, self.accepted, self.error = rig, [], None

    def run(self) -> None:
        try:
            for i in range(0, TASKS, 5):
                self.accepted += self.rig.submit([probe_task(f"chaos {i + j}", 0.05, 0.3) for j in range(5)])
                time.sleep(0.4)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def kill_one_agent(rig: Rig, pool) -> None:  # type: ignore[no-untyped-def]
    pids = pool.children()
    if pids and pool.kill(pids[0]):
        pool.wait_full(90, without=pids[0])


@pytest.mark.slow
def test_chaos_loses_nothing_duplicates_nothing_and_every_task_ends(private_postgres, tmp_path):
    server, url = private_postgres
    with open_rig(url, tmp_path / "rig", LEASE) as rig:
        steady = rig.start_pool(2, name="steady")
        doomed = rig.start_pool(2, name="doomed")
        producer = Producer(rig)
        producer.start()

        def progress(n: int) -> None:  # faults land while work is in flight, not before it
            wait_until(lambda: len(producer.accepted) >= n or producer.error, 120, f"{n} submissions")

        progress(10)
        kill_one_agent(rig, steady)
        progress(25)
        rig.restart_broker(1.0)
        progress(40)
        os.killpg(doomed.proc.pid, signal.SIGKILL)  # a lost host: its main and its pool
        doomed.proc.wait(timeout=10)
        rig.pools.remove(doomed)
        rig.start_pool(2, name="replacement")
        progress(55)
        server.stop()
        time.sleep(1.0)
        server.start()
        kill_one_agent(rig, steady)
        faults_over = time.monotonic()
        producer.join(timeout=180)
        assert producer.error is None, producer.error
        assert len(producer.accepted) == TASKS

        def ended() -> bool:
            try:  # a connection per look: the database was restarted under the run
                with psycopg.connect(url, connect_timeout=5) as sql:
                    ended_n, n, arrived = sql.execute(
                        "SELECT count(*) FILTER (WHERE status::text = ANY(%s)), count(*),"
                        " count(DISTINCT idempotency_key) FILTER (WHERE idempotency_key = ANY(%s)) FROM phoenix.tasks",
                        ([str(s) for s in ENDED], producer.accepted)).fetchone()
            except psycopg.OperationalError:
                return False
            return arrived == TASKS and ended_n == n

        wait_until(ended, SETTLE_BOUND_SECONDS, "every accepted submission on the board and every task ended", every=1.0)
        print(f"settled {time.monotonic() - faults_over:.1f} s after the last fault")

    with psycopg.connect(url) as sql:
        n_tasks, = sql.execute("SELECT count(*) FROM phoenix.tasks").fetchone()
        assert n_tasks == TASKS  # each accepted submission once, redeliveries included
        twice = sql.execute("SELECT count(*) FROM (SELECT task_id FROM phoenix.task_events WHERE kind = 'completed'"
                            " GROUP BY task_id HAVING count(*) > 1) d").fetchone()[0]
        assert twice == 0
        by_status = dict(sql.execute("SELECT status::text, count(*) FROM phoenix.tasks GROUP BY 1").fetchall())
        print(f"tasks by status: {by_status}")
        assert sum(by_status.get(str(s), 0) for s in ENDED) == TASKS
