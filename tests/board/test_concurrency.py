"""Concurrency: real threads (and processes) against real PostgreSQL, no mocks.

Threads start together on a barrier, so the operations really overlap; nothing waits on a sleep and
nothing asserts on timing. What is checked is the end state and the history in
``phoenix.task_events``: every task done exactly once, counters equal to the rows they count,
fencing tokens that keep a stale claimant out, and migrations that apply each file once.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from phoenix_board.board import errors, lifecycle, migrate, votes
from tests.board.conftest import raised, run_together
from tests.conftest import make_agent, make_task, snapshot

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- claiming and completing ------------------------------------------------------------------


def test_many_agents_complete_every_task_exactly_once(db, sql):
    """16 agents, each in its own thread, claim and complete 300 tasks until the board is empty."""
    workers = [make_agent(db) for _ in range(16)]
    tasks = [make_task(db) for _ in range(300)]
    held: dict[UUID, UUID] = {}  # task -> agent, while a claim is live (from the claimants' view)
    held_lock = threading.Lock()
    double_holds: list[tuple[UUID, UUID, UUID]] = []

    def work(agent_id: UUID) -> list[UUID]:
        done = []
        while (task := lifecycle.claim(db, agent_id)) is not None:
            with held_lock:
                if task.id in held:
                    double_holds.append((task.id, held[task.id], agent_id))
                held[task.id] = agent_id
            lifecycle.result(db, task.id, agent_id, task.attempt, {"by": str(agent_id)}, 1.0)
            with held_lock:
                del held[task.id]
            done.append(task.id)
        return done

    results = run_together([lambda a=a.id: work(a) for a in workers])
    assert raised(results) == []
    done_by = {a.id: ids for a, ids in zip(workers, results)}

    assert double_holds == []
    assert sorted(t for ids in done_by.values() for t in ids) == sorted(t.id for t in tasks)
    assert sum(1 for ids in done_by.values() if ids) > 1, "the work was not shared at all"

    statuses = sql.execute("SELECT status::text AS s, count(*) AS n FROM phoenix.tasks GROUP BY 1").fetchall()
    assert statuses == [{"s": "complete", "n": 300}]
    per_task = sql.execute("""
        SELECT task_id,
               count(*) FILTER (WHERE kind = 'completed') AS completed,
               count(*) FILTER (WHERE kind = 'claimed') AS claimed,
               array_agg(DISTINCT agent_id) FILTER (WHERE kind IN ('claimed', 'completed')) AS agents
          FROM phoenix.task_events GROUP BY task_id""").fetchall()
    assert len(per_task) == 300
    for row in per_task:
        # one claim, one completion, by the same agent
        assert (row["completed"], row["claimed"], len(row["agents"])) == (1, 1, 1), row
    same_attempt = sql.execute("""
        SELECT task_id, attempt, count(DISTINCT agent_id) AS holders FROM phoenix.task_events
         WHERE kind = 'claimed' GROUP BY task_id, attempt HAVING count(*) > 1""").fetchall()
    assert same_attempt == []

    agents_rows = sql.execute("""
        SELECT a.id, a.tasks_completed, a.tasks_failed, a.current_task,
               (SELECT count(*) FROM phoenix.task_events e WHERE e.agent_id = a.id AND e.kind = 'completed') AS events
          FROM phoenix.agents a""").fetchall()
    for row in agents_rows:
        assert row["tasks_completed"] == len(done_by[row["id"]]) == row["events"], row
        assert row["tasks_failed"] == 0
        assert row["current_task"] is None


# --- votes ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_votes_keep_counts_equal_to_vote_rows(db, sql):
    """16 agents cast random up/down/retract sequences on 5 tasks at once (2,400 votes).

    Each agent's own last vote per task is known, so the expected counts are exact; each call's
    ``previous`` must also be the agent's own previous vote (no lost or phantom updates).
    """
    author = make_agent(db)
    tasks = [make_task(db, created_by=author.id).id for _ in range(5)]
    voters = [make_agent(db) for _ in range(16)]
    votes_each = 150

    def cast(voter: UUID, seed: int) -> tuple[dict[UUID, int], list[tuple[int, int]]]:
        rng = random.Random(seed)
        mine = dict.fromkeys(tasks, 0)
        wrong_previous = []
        for _ in range(votes_each):
            task = rng.choice(tasks)
            value = rng.choice((1, -1, 0))
            row = votes.vote(db, task, voter, value)
            if row["previous"] != mine[task]:
                wrong_previous.append((row["previous"], mine[task]))
            mine[task] = value
        return mine, wrong_previous

    results = run_together([lambda v=v.id, i=i: cast(v, i) for i, v in enumerate(voters)])
    assert raised(results) == []
    assert [wrong for _, wrong in results] == [[] for _ in voters]

    finals = [mine for mine, _ in results]
    rows = {r["id"]: r for r in sql.execute("""
        SELECT t.id, t.upvotes, t.downvotes, t.score,
               count(v.*) FILTER (WHERE v.vote = 1) AS up_rows,
               count(v.*) FILTER (WHERE v.vote = -1) AS down_rows
          FROM phoenix.tasks t LEFT JOIN phoenix.task_votes v ON v.task_id = t.id
         GROUP BY t.id""").fetchall()}
    for task in tasks:
        row = rows[task]
        expected_up = sum(1 for mine in finals if mine[task] == 1)
        expected_down = sum(1 for mine in finals if mine[task] == -1)
        assert (row["upvotes"], row["downvotes"]) == (row["up_rows"], row["down_rows"]) == (expected_up, expected_down)
        assert row["score"] == row["upvotes"] - row["downvotes"]


# --- fencing ----------------------------------------------------------------------------------


def assert_stale_and_harmless(db, sql, task: UUID, agent: UUID, attempt: int, now: datetime) -> None:
    """A late result, fail and renew for ``attempt`` each raise StaleClaim and write nothing."""
    late_calls = {
        "result": lambda: lifecycle.result(db, task, agent, attempt, {"late": True}, 1.0, now=now),
        "fail": lambda: lifecycle.fail(db, task, agent, attempt, "late failure", now=now),
        "renew": lambda: lifecycle.renew(db, task, agent, attempt, lease_seconds=30, now=now),
    }
    for name, call in late_calls.items():
        before = snapshot(sql)
        with pytest.raises(errors.StaleClaim):
            call()
        assert snapshot(sql) == before, f"a late {name} wrote something"


def test_stale_claimant_cannot_complete_fail_or_renew(db, sql):
    """A's lease expires and B takes attempt 2; A's late calls for attempt 1 are refused at every stage."""
    a, b = make_agent(db), make_agent(db)
    task = make_task(db, now=T0)
    lease = 10
    first = lifecycle.claim(db, a.id, lease_seconds=lease, now=T0)
    assert (first.id, first.attempt) == (task.id, 1)

    released = lifecycle.release_expired(db, now=at(lease + 1))
    assert [t.id for t in released] == [task.id]
    # released, waiting for its retry: attempt 1 is over
    assert_stale_and_harmless(db, sql, task.id, a.id, first.attempt, now=at(lease + 2))

    retry_at = released[0].available_at
    second = lifecycle.claim(db, b.id, now=retry_at)
    assert (second.id, second.attempt, second.assigned_to) == (task.id, 2, b.id)
    # B holds attempt 2
    assert_stale_and_harmless(db, sql, task.id, a.id, first.attempt, now=retry_at + timedelta(seconds=1))

    done = lifecycle.result(db, task.id, b.id, second.attempt, {"by": "b"}, 1.0, now=retry_at + timedelta(seconds=2))
    assert done.status == "complete"
    # complete: attempt 1 is still stale
    assert_stale_and_harmless(db, sql, task.id, a.id, first.attempt, now=retry_at + timedelta(seconds=3))

    final = lifecycle.get(db, task.id)
    assert (final.status, final.output, final.attempt) == ("complete", {"by": "b"}, 2)
    completed = [e for e in lifecycle.events(db, task.id) if e["kind"] == "completed"]
    assert [(e["agent_id"], e["attempt"]) for e in completed] == [(b.id, 2)]


# --- idempotent submission ----------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(5))
def test_same_idempotency_key_from_12_threads_makes_one_task(db, sql, round_):
    key = f"concurrent-submit-{round_}"
    spec = {"title": "deduplicated", "team": "iota", "idempotency_key": key}
    results = run_together([lambda: lifecycle.submit(db, spec) for _ in range(12)])
    assert raised(results) == []
    assert sorted(created for _, created in results) == [False] * 11 + [True]
    assert len({task.id for task, _ in results}) == 1
    rows = sql.execute("SELECT id FROM phoenix.tasks WHERE idempotency_key = %s", (key,)).fetchall()
    assert [r["id"] for r in rows] == [results[0][0].id]
    submitted = sql.execute("SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'submitted'").fetchone()
    assert submitted["n"] == 1


# --- dependencies -----------------------------------------------------------------------------


def test_completing_dependencies_while_a_dependent_is_submitted(db):
    """30 races of "complete the dependencies" against "submit a task that depends on them".

    Whatever the interleaving, the dependent's pending_deps must equal its unfinished dependencies
    and each dependency's ``blocks`` must name it. In odd rounds only the first dependency is
    completed during the race; the second completes afterwards and must bring pending_deps to 0.
    The dependencies are on team alpha_delta, the dependents on iota, so the workers only ever
    claim the dependencies.
    """
    w1, w2 = make_agent(db), make_agent(db)
    for round_ in range(30):
        d1 = make_task(db, title=f"dep 1 of round {round_}")
        c1 = lifecycle.claim(db, w1.id)
        d2 = make_task(db, title=f"dep 2 of round {round_}")
        c2 = lifecycle.claim(db, w2.id)
        assert (c1.id, c2.id) == (d1.id, d2.id)
        both = round_ % 2 == 0

        calls: list[Callable[[], Any]] = [
            lambda: lifecycle.submit(db, {"title": f"dependent {round_}", "team": "iota",
                                          "depends_on": [str(d1.id), str(d2.id)]})[0],
            lambda: lifecycle.result(db, d1.id, w1.id, c1.attempt),
        ]
        if both:
            calls.append(lambda: lifecycle.result(db, d2.id, w2.id, c2.attempt))
        results = run_together(calls)
        assert raised(results) == []
        dependent = results[0]

        now_dependent = lifecycle.get(db, dependent.id)
        unfinished = sum(lifecycle.get(db, d).status != "complete" for d in (d1.id, d2.id))
        assert unfinished == (0 if both else 1)
        assert now_dependent.pending_deps == unfinished, f"round {round_}"
        assert dependent.id in lifecycle.get(db, d1.id).blocks
        assert dependent.id in lifecycle.get(db, d2.id).blocks
        if not both:
            lifecycle.result(db, d2.id, w2.id, c2.attempt)
            assert lifecycle.get(db, dependent.id).pending_deps == 0, f"round {round_}"


# --- reviews ----------------------------------------------------------------------------------


def test_concurrent_reviews_reach_quorum_and_decide_once(db, sql):
    """Six reviewers at once on a task with quorum 3, eight times over with random verdicts.

    Exactly three verdicts count, exactly one of them decides (one 'completed' or 'rejected'
    event for the attempt), the decision follows the weighted sum of the counted verdicts, and
    the reviewers who came too late are refused with IllegalTransition.
    """
    executor = make_agent(db)
    reviewers = [make_agent(db) for _ in range(6)]
    rng = random.Random(7)
    quorum = 3
    for round_ in range(8):
        # max_attempts=1: a rejection fails the task for good, so the next round claims a new one
        task = make_task(db, review_quorum=quorum, max_attempts=1)
        claim = lifecycle.claim(db, executor.id)
        assert claim.id == task.id
        lifecycle.result(db, task.id, executor.id, claim.attempt, {"round": round_}, 0.9)
        before = sql.execute("SELECT tasks_completed + tasks_failed AS n FROM phoenix.agents WHERE id = %s",
                             (executor.id,)).fetchone()["n"]

        verdicts = [rng.choice((1, -1)) for _ in reviewers]
        results = run_together([lambda r=r.id, v=v: lifecycle.review(db, task.id, r, v)
                                for r, v in zip(reviewers, verdicts)])

        refused = raised(results)
        assert all(isinstance(e, errors.IllegalTransition) for e in refused), refused
        decisions = [decided for _, decided in (r for r in results if not isinstance(r, BaseException)) if decided]
        assert len(refused) == len(reviewers) - quorum
        assert len(decisions) == 1

        counted = sql.execute("SELECT verdict, weight FROM phoenix.task_reviews WHERE task_id = %s AND attempt = %s",
                              (task.id, claim.attempt)).fetchall()
        assert len(counted) == quorum
        consensus = sum(r["verdict"] * r["weight"] for r in counted)
        assert decisions == ["approved" if consensus > 0 else "rejected"]

        events = Counter(e["kind"] for e in lifecycle.events(db, task.id) if e["attempt"] == claim.attempt)
        assert events["reviewed"] == quorum
        assert events["completed"] + events["rejected"] == 1
        assert lifecycle.get(db, task.id).status == ("complete" if decisions == ["approved"] else "failed")
        after = sql.execute("SELECT tasks_completed + tasks_failed AS n FROM phoenix.agents WHERE id = %s",
                            (executor.id,)).fetchone()["n"]
        assert after == before + 1  # the outcome counted once for the executor


# --- migrations -------------------------------------------------------------------------------

MIGRATE_SCRIPT = """
import json, sys
from phoenix_board.board import migrate
print("ready", flush=True)
sys.stdin.readline()  # the start signal, once every process has imported everything
report = migrate.migrate(sys.argv[1])
print(json.dumps({"migrations": report.migrations, "functions": report.functions}), flush=True)
"""


def schema_rows(url: str) -> tuple[list[tuple], list[tuple]]:
    with psycopg.connect(url) as conn:
        versions = conn.execute("SELECT version, checksum, applied_at FROM phoenix.schema_version ORDER BY 1").fetchall()
        functions = conn.execute("SELECT name, checksum, applied_at FROM phoenix.schema_functions ORDER BY 1").fetchall()
    return versions, functions


def test_ten_processes_migrate_one_database_at_once(fresh_url):
    """Ten processes run migrate() on the same empty database, released together.

    All succeed; each migration and each function file is applied by exactly one of them and
    recorded once; a further run is a no-op that changes no row.
    """
    processes = [
        subprocess.Popen([sys.executable, "-c", MIGRATE_SCRIPT, fresh_url],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(10)
    ]
    try:
        for p in processes:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in processes:  # the barrier: every process is waiting on its stdin
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=120) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()

    for p, (_, err) in zip(processes, outputs):
        assert p.returncode == 0, err
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    applied = sorted(name for r in reports for name in r["migrations"])
    applied_functions = sorted(name for r in reports for name in r["functions"])
    assert applied == sorted(f.name for f in migrate.migrations())
    replaceable = sorted(f.name for f in [*migrate.functions(), migrate.security_sql()])
    assert applied_functions == replaceable

    versions, functions = schema_rows(fresh_url)
    assert [v[0] for v in versions] == sorted(f.name for f in migrate.migrations())
    assert [f[0] for f in functions] == replaceable

    again = migrate.migrate(fresh_url)
    assert not again.changed
    assert schema_rows(fresh_url) == (versions, functions)
    with psycopg.connect(fresh_url) as conn:  # and the schema works
        assert conn.execute("SELECT phoenix.hot_rank(10, now() - interval '1 hour') > 0").fetchone()[0]
