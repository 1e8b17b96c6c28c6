"""Agents as threads (`workers --pool threads`, workers/thread_agents.py), with real worker
processes, a real broker and real PostgreSQL: what happened is counted from the database."""

from __future__ import annotations

import signal

import psycopg
import pytest
from psycopg.rows import dict_row

from phoenix_board.board import lifecycle
from tests.conftest import wait_for

pytestmark = pytest.mark.slow  # real processes: many seconds a test (tests/README.md)

THREADS = ("--pool", "threads")


def n(sql, query: str, *args) -> int:
    return sql.execute(query, args).fetchone()["n"]


def fresh_heartbeats(sql, prefix: str, seconds: float) -> int:
    return n(sql, "SELECT count(*) AS n FROM phoenix.agents WHERE codename LIKE %s "
                  "AND last_heartbeat > now() - make_interval(secs => %s)", f"{prefix}-%", seconds)


def connections(url: str, name: str) -> int:
    """The pool's connections as PostgreSQL counts them (application_name, board/db.py)."""
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        return conn.execute("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                            (dbname, name)).fetchone()["n"]


def submit(db, k: int, team: str = "alpha_delta", **fields) -> None:
    for i in range(k):
        lifecycle.submit(db, {"title": f"t{i}", "team": team, "category": "noop", **fields})


def test_fifty_thread_agents_complete_500_tasks_once_within_their_connections(pools, db, sql, url):
    pools.start("alpha_delta", agents=50, name="th", extra=THREADS, PHOENIX_THREAD_POOL_CONNECTIONS="4")
    wait_for(lambda: fresh_heartbeats(sql, "th", 5) == 50, what="50 agents beating")
    submit(db, 500)  # no wake-ups sent: the idle poller finds them and wakes the agents
    peak = 0

    def all_done() -> bool:
        nonlocal peak
        peak = max(peak, connections(url, "phoenix-agents"))
        return n(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'") == 500

    wait_for(all_done, timeout=180, what="500 completions")
    # no double claim: one claim and one completion per task, and the agents' counters agree
    assert n(sql, "SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'completed'") == 500
    assert n(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE attempt <> 1") == 0
    assert n(sql, "SELECT coalesce(sum(tasks_completed), 0) AS n FROM phoenix.agents") == 500
    assert n(sql, "SELECT count(DISTINCT assigned_to) AS n FROM phoenix.tasks") > 1  # more than one agent worked
    assert 0 < peak <= 4
    # the whole process, poller and heartbeat included, holds no other connection
    assert connections(url, "phoenix-poller") == 0
    assert fresh_heartbeats(sql, "th", 5) == 50  # each agent's own heartbeat, one round for all


def test_sigkill_returns_claims_after_the_lease_and_a_restart_keeps_identities(pools, db, sql):
    first = pools.start("iota", agents=6, name="crash", extra=THREADS)
    wait_for(lambda: fresh_heartbeats(sql, "crash", 5) == 6, what="6 agents")
    ids = {r["codename"]: r["id"] for r in sql.execute("SELECT codename, id FROM phoenix.agents")}
    submit(db, 4, team="iota", category="sleep", payload={"seconds": 120})
    wait_for(lambda: n(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'in_progress'") == 4,
             what="4 claims in hand")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    # nothing of the process is left to renew: the leases (3 s in tests) run out and the claims come
    # back; no pool runs, so the sweep is the board's own (the beat's job), done here by hand
    def swept() -> bool:
        lifecycle.release_expired(db)
        return n(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'open'") == 4

    wait_for(swept, what="the 4 claims back on the board")
    assert n(sql, "SELECT count(*) AS n FROM phoenix.agents WHERE current_task IS NOT NULL") == 0
    # the restarted pool (same name, same host: the same holder token) re-attaches to the same agents
    pools.start("iota", agents=6, name="crash", extra=THREADS)
    wait_for(lambda: fresh_heartbeats(sql, "crash", 2) == 6, what="the same 6 agents back")
    assert {r["codename"]: r["id"] for r in sql.execute("SELECT codename, id FROM phoenix.agents")} == ids
    assert n(sql, "SELECT count(*) AS n FROM phoenix.agents") == 6


def test_a_restart_returns_the_claims_at_once(pools, db, sql):
    first = pools.start("iota", agents=3, name="back", extra=THREADS, PHOENIX_LEASE_SECONDS="600")
    wait_for(lambda: fresh_heartbeats(sql, "back", 5) == 3, what="3 agents")
    submit(db, 2, team="iota", category="sleep", payload={"seconds": 600})
    wait_for(lambda: n(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'in_progress'") == 2,
             what="2 claims in hand")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    # a 600 s lease: only the restart can return them now, as a failed attempt of the old holder
    pools.start("iota", agents=3, name="back", extra=THREADS, PHOENIX_LEASE_SECONDS="600")
    wait_for(lambda: n(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE attempt = 2") == 2, what="claims returned")
    # returned as failed attempts of the agents that held them, each once
    assert n(sql, "SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'failed'") == 2
    pools.kill()  # the returned tasks are in hand again, sleeping 600 s


def test_coroutine_handlers_complete_tasks(pools, db, sql):
    pools.start("epsilon_zeta", agents=20, name="aio", extra=THREADS)
    wait_for(lambda: fresh_heartbeats(sql, "aio", 5) == 20, what="20 agents")
    # 40 tasks that each wait 2 s on the event loop: they overlap there, 20 at a time
    submit(db, 40, team="epsilon_zeta", category="async_sleep", payload={"seconds": 2})
    wait_for(lambda: n(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'") == 40,
             timeout=120, what="40 completions")
    outputs = sql.execute("SELECT output FROM phoenix.tasks").fetchall()
    assert {o["output"]["slept"] for o in outputs} == {2}
    assert len({o["output"]["by"] for o in outputs}) > 1
    assert n(sql, "SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'completed'") == 40


def test_a_thread_pool_works_through_pgbouncer_in_transaction_mode(pgbouncer, pools, url, db, sql):
    # (pgbouncer first: the pools stop before it does, as they would in production)
    # every connection of the pool goes through PgBouncer: transactions of one client land on any
    # of its 4 server connections, so a role or an acting agent set per session would be lost
    # or leak to the next client; both are set per transaction (board/db.py)
    pools.start("alpha_delta", agents=30, name="bounce", extra=THREADS, PHOENIX_DATABASE_URL=pgbouncer.url,
                PHOENIX_DATABASE_POOLED="1", PHOENIX_THREAD_POOL_CONNECTIONS="8")
    wait_for(lambda: fresh_heartbeats(sql, "bounce", 5) == 30, what="30 agents beating through pgbouncer")
    submit(db, 200)
    wait_for(lambda: n(sql, "SELECT count(*) AS n FROM phoenix.tasks WHERE status = 'complete'") == 200,
             timeout=180, what="200 completions through pgbouncer")
    assert n(sql, "SELECT count(*) AS n FROM phoenix.task_events WHERE kind = 'completed'") == 200
    assert n(sql, "SELECT coalesce(sum(tasks_completed), 0) AS n FROM phoenix.agents") == 200
    # the server connections PgBouncer shares carry no agent's role into another client's session
    for _ in range(8):
        with psycopg.connect(pgbouncer.url, autocommit=True, prepare_threshold=None) as conn:
            assert conn.execute("SELECT current_user = session_user").fetchone()[0]
            assert not conn.execute("SELECT current_setting('phoenix.agent_id', true)").fetchone()[0]


def test_a_thread_pool_stopped_while_its_database_is_unreachable_exits_promptly(pools, pgbouncer, sql):
    # each agent's last heartbeat and release would wait out the connection pool's 30 s in turn
    # (40 agents: 40 minutes); the pool gives up on the first, says so, and leaves the holds to
    # go stale as after a crash
    proc = pools.start("alpha_delta", agents=40, name="outage", extra=THREADS, PHOENIX_DATABASE_URL=pgbouncer.url,
                       PHOENIX_DATABASE_POOLED="1", PHOENIX_THREAD_POOL_CONNECTIONS="4")
    wait_for(lambda: fresh_heartbeats(sql, "outage", 5) == 40, what="40 agents beating through pgbouncer")
    pgbouncer.stop()  # the database is gone for the pool
    proc.send_signal(signal.SIGTERM)
    # a bound far above the 5 s one attempt waits, far below what one attempt per agent would take
    assert proc.wait(timeout=120) == 0
    assert "stopping without releasing 40 agents" in pools.log("outage")
    # the holds were not released: the agents go stale rather than look stopped
    assert n(sql, "SELECT count(*) AS n FROM phoenix.agents WHERE codename LIKE 'outage-%%' AND holder IS NOT NULL") == 40


def test_bad_pool_options_are_refused_in_one_line_before_anything_starts(env, sql, tmp_path):
    import subprocess
    import sys

    from tests.conftest import assert_one_line

    def workers(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "phoenix_board.cli", "workers", "--team", "iota", *args],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)

    too_many = workers("--agents", "300")  # prefork: a process each
    assert too_many.returncode == 1
    assert_one_line(too_many.stderr.strip())
    assert "at most 256" in too_many.stderr and "--pool threads" in too_many.stderr
    unknown = workers("--pool", "fibers")
    assert unknown.returncode == 2 and "fibers" in unknown.stderr
    assert n(sql, "SELECT count(*) AS n FROM phoenix.agents") == 0  # nothing registered
