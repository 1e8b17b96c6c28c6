"""Reviews under concurrency: many reviewers, each also the executor of other tasks in review,
give verdicts at once on overlapping tasks. No review may deadlock (docs/concepts/concurrency.md):
the server's own count, ``pg_stat_database.deadlocks``, must not grow. ``db.py``
retries a deadlock, so the outcome alone would hide one; the server's counter does not."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg

from phoenix_board.board import errors, lifecycle
from phoenix_board.board.db import Database
from tests.conftest import make_agent, make_task

AGENTS = 10
TASKS = 60
QUORUM = 3


def deadlocks(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def test_concurrent_reviewers_on_overlapping_tasks_never_deadlock(url, sql):
    # a pool of our own, closed before counting: a backend flushes its statistics when it exits
    db = Database(url, min_size=AGENTS, max_size=AGENTS + 2, name="phoenix-test-reviews").open()
    try:
        agents = [make_agent(db) for _ in range(AGENTS)]
        tasks = []
        # every agent executes some tasks and reviews the others: executors' and reviewers' rows
        # are locked by many reviews at once, in every combination
        for i in range(TASKS):
            executor = agents[i % AGENTS]
            task = make_task(db, review_quorum=QUORUM, max_attempts=1, team="alpha_delta")
            claim = lifecycle.claim(db, executor.id)
            assert claim is not None and claim.id == task.id
            lifecycle.result(db, task.id, executor.id, claim.attempt, {"n": i}, 0.9)
            tasks.append((task.id, executor.id))
        before = deadlocks(url)
        barrier = threading.Barrier(AGENTS)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def reviewer(k: int) -> None:
            me = agents[k].id
            mine = [t for t, executor in tasks if executor != me]
            rng = random.Random(k)
            rng.shuffle(mine)
            barrier.wait(timeout=60)
            for task_id in mine:
                try:
                    _, decided = lifecycle.review(db, task_id, me, rng.choice((1, 1, -1)))
                    kind = decided or "counted"
                except errors.IllegalTransition:
                    kind = "late"  # decided by others first
                with lock:
                    outcomes[kind] += 1

        with ThreadPoolExecutor(max_workers=AGENTS) as pool:
            for f in [pool.submit(reviewer, k) for k in range(AGENTS)]:
                f.result(timeout=600)
    finally:
        db.close()

    assert deadlocks(url) == before, "reviews deadlocked (pg_stat_database.deadlocks grew)"
    # and every task was decided exactly once, by exactly QUORUM verdicts
    assert outcomes["approved"] + outcomes["rejected"] == TASKS
    rows = sql.execute("SELECT task_id, count(*) AS n FROM phoenix.task_reviews GROUP BY task_id").fetchall()
    assert len(rows) == TASKS and all(r["n"] == QUORUM for r in rows)
    decided = sql.execute("SELECT count(*) AS n FROM phoenix.task_events WHERE kind IN ('completed', 'rejected')"
                          ).fetchone()["n"]
    assert decided == TASKS


def test_agents_that_work_and_review_at_once_never_deadlock(url, sql):
    """The agent loop's own mix: each agent claims a task, submits its result (to review) and
    claims the next in one call, and reviews others' results in between; an executor's claim
    and the reviews of its earlier work meet on its row."""
    db = Database(url, min_size=AGENTS, max_size=AGENTS + 2, name="phoenix-test-work-review").open()
    try:
        agents = [make_agent(db) for _ in range(AGENTS)]
        for i in range(TASKS):
            make_task(db, review_quorum=2, max_attempts=1)
        before = deadlocks(url)
        barrier = threading.Barrier(AGENTS)

        def agent(k: int) -> None:
            me = agents[k].id
            barrier.wait(timeout=60)
            task = lifecycle.claim_start(db, me)
            while True:
                while (r := lifecycle.review_claim(db, me)) is not None:
                    try:
                        lifecycle.review(db, r.id, me, 1)
                    except errors.IllegalTransition:
                        pass
                if task is not None:
                    _, task = lifecycle.result_claim_next(db, task.id, me, task.attempt, {"k": k}, 0.9)
                    continue
                if sql_count(url, "SELECT count(*) FROM phoenix.tasks WHERE status <> 'complete'") == 0:
                    return
                task = lifecycle.claim_start(db, me)

        with ThreadPoolExecutor(max_workers=AGENTS) as pool:
            for f in [pool.submit(agent, k) for k in range(AGENTS)]:
                f.result(timeout=600)
    finally:
        db.close()

    assert deadlocks(url) == before, "work and reviews deadlocked (pg_stat_database.deadlocks grew)"
    done = sql.execute("SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'completed'").fetchone()["n"]
    assert done == TASKS


def sql_count(url: str, statement: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement).fetchone()[0]
