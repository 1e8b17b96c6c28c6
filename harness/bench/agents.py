"""``phoenix-board bench agents``: a thousand live agents on one machine, as threads.

**What is measured.** On a scratch database and a broker of its own, ``--agents`` agents run in
``--processes`` worker processes of ``phoenix-board workers --pool threads`` (workers/thread_agents.py),
each sharing ``--connections`` database connections among its agents:

* *memory*: the resident set of the pools' processes, summed, per agent (``rss_mb_per_agent``);
* *connections*: the agents' connections to the scratch database (their pools' and pollers', by
  application name), the most seen while the agents start, idle, wake and work
  (``db_connections_max``); ``db_connections_total_max`` counts every connection but the bench's
  own, its queue client's (2) included;
* *heartbeats*: agents whose heartbeat is younger than twice ``PHOENIX_HEARTBEAT_SECONDS``, after
  the pools have run a while (``heartbeats_fresh`` of ``agents``);
* *wake latency*: with every agent idle, one task at a time is sent through the queue; the time
  from the send to the claim the board records (same host, same clock), as ``bench e2e`` does;
* *burst*: ``--tasks`` tasks (handler ``noop``) sent through the queue in batches of 100; tasks
  completed per second from the first send to the last completion. The baseline is the same burst
  on a ``--pool prefork`` pool of 16 agents started after the thread pools have stopped, in the same
  run (``burst_ratio`` = threads / prefork);
* *hold*: every agent at work at once, on a ``sleep`` task longer than its lease: the database
  server's CPU per second while they all hold their claims (``hold_db_cpu_ms_per_s``: their
  heartbeats and lease renewals, and the bench's own polls), over two renewal rounds, and the leases
  that ran out anyway (``hold_leases_lost``, 0 when every renewal came in time). The pools run with
  a lease of ``HOLD_LEASE_SECONDS`` (renewed every third of it), so that a round comes every 2 s.

No test asserts a timing; ``targets`` says which of the issue's targets the run met.
"""

from __future__ import annotations

import os
import platform
import time
import uuid
from typing import Any

import psutil
import typer
from rich.console import Console

from phoenix_board.board import embedded
from phoenix_board.board.settings import Settings
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.bench import cpu
from phoenix_board.harness.bench.e2e import (COMPLETION_POLL_SECONDS, _broker, _pct, _spawn, _stop, _wait,
                                             completions_from_now, run_folder)
from phoenix_board.harness.queries import database
from phoenix_board.harness.scratch import Ui, scratch_database
from phoenix_board.workers.client import Client

TEAM = "iota"
PREFORK_AGENTS = 16
HOLD_LEASE_SECONDS = 6.0  # the pools' lease: renewed every 2 s
HOLD_TASK_SECONDS = 20.0  # each agent's sleep in the hold: longer than the lease, and than the start of all of them
BATCH = 100
ME = "phoenix-bench-agents"  # the bench's own connections, left out of the count


def _rss_mb(procs: list[Any]) -> float:
    total = 0
    for proc in procs:
        try:
            root = psutil.Process(proc.pid)
            total += sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            pass
    return total / 2**20


def _burst(db, client: Client, tasks: int, watch) -> float:  # type: ignore[no-untyped-def]
    completed = completions_from_now(db)
    work = [{"title": f"burst {i}", "team": TEAM, "category": "noop"} for i in range(tasks)]
    start = time.perf_counter()
    client.submit_many(work, BATCH)
    _wait(lambda: watch() or completed() >= tasks, 600, "the burst", every=COMPLETION_POLL_SECONDS)
    return tasks / (time.perf_counter() - start)


def _hold(db, client: Client, agents: int, watch) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Every agent at work on a sleep longer than its lease: the server's CPU over two renewal
    rounds while they all hold their claims, and the leases lost by the end."""
    work = [{"title": f"hold {i}", "team": TEAM, "category": "sleep", "payload": {"seconds": HOLD_TASK_SECONDS}}
            for i in range(agents)]
    client.submit_many(work, BATCH)
    started = time.monotonic()
    _wait(lambda: watch() or db.one("bench_agents_holding", category="sleep")["working"] >= agents, 120,
          "every agent at work", every=0.1)
    window = 2 * HOLD_LEASE_SECONDS / 3
    meter = cpu.Meter({"database": cpu.server_backends(db)})
    before = meter.read()
    working = db.one("bench_agents_holding", category="sleep")["working"]
    time.sleep(window)
    spent = cpu.spent(before, meter.read())["database"]
    in_window = time.monotonic() - started <= HOLD_TASK_SECONDS  # no sleep ended inside it
    row = _wait(lambda: (r := db.one("bench_agents_holding", category="sleep"))["complete"] + r["expired"] >= agents
                and r, 120, "the hold's tasks", every=COMPLETION_POLL_SECONDS)
    return {"hold_agents_working": working, "hold_lease_s": HOLD_LEASE_SECONDS, "hold_window_s": round(window, 1),
            "hold_window_clean": in_window,
            "hold_db_cpu_ms_per_s": None if spent is None else round(spent / window * 1000, 1),
            "hold_leases_lost": row["expired"]}


def _wake_latency(db, client: Client, samples: int, watch) -> list[float]:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    out = []
    for i in range(samples):
        key = f"wake-{uuid.uuid4()}"
        sent = datetime.now(UTC)
        client.submit({"title": f"wake {i}", "team": TEAM, "category": "noop"}, key)
        row = _wait(lambda: db.one("bench_e2e_claimed_at", key=key), 30, "a claim")
        out.append((row["claimed_at"] - sent).total_seconds() * 1000)
        _wait(lambda: db.one("bench_e2e_claimed_at", key=key)["status"] == "complete", 30, "a completion")
        watch()
    return out


def run(server_url: str, settings: Settings, agents: int, processes: int, connections: int, tasks: int,
        wake_samples: int, console: Console | None = None, keep_logs: bool = False) -> dict[str, Any]:
    ui = Ui(console)
    settings = settings.model_copy(update={"queue_prefix": f"bench{uuid.uuid4().hex[:8]}"})
    per = [agents // processes + (1 if i < agents % processes else 0) for i in range(processes)]
    with run_folder(settings, keep_logs, ui) as logs, scratch_database(server_url, False, ui) as (_, url), \
            _broker(settings, logs) as (broker_url, _):
        env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": broker_url,
               "PHOENIX_QUEUE_PREFIX": settings.queue_prefix, "PHOENIX_THREAD_POOL_CONNECTIONS": str(connections),
               "PHOENIX_DATA_DIR": str(logs), "PHOENIX_LEASE_SECONDS": str(HOLD_LEASE_SECONDS)}
        heartbeat = Settings().heartbeat_seconds
        run_settings = settings.model_copy(update={"database_url": url, "redis_url": broker_url})
        with database(url, max_size=2, name=ME) as db, Client(run_settings) as client:
            peak = peak_total = 0

            def watch() -> bool:  # samples the connections while waiting; never ends a wait itself
                nonlocal peak, peak_total
                row = db.one("bench_agents_connections", mine=ME)
                peak, peak_total = max(peak, row["n"]), max(peak_total, row["total"])
                return False

            ui.note(f"{agents} thread agents in {processes} processes, {connections} connections each")
            started = time.perf_counter()
            pools = [_spawn(["-m", "phoenix_board.cli", "workers", "--team", TEAM, "--agents", str(n),
                             "--pool", "threads", "--name", f"th{i}", "--loglevel", "WARNING", "--metrics-port", "0"],
                            env, logs / f"threads-{i}.log") for i, n in enumerate(per)]
            try:
                _wait(lambda: watch() or db.one("bench_e2e_live_agents")["n"] >= agents, 300, "the thread agents",
                      pools[0], logs / "threads-0.log")
                start_s = time.perf_counter() - started
                # a few heartbeat rounds with every agent idle
                end = time.monotonic() + 3 * heartbeat
                while time.monotonic() < end:
                    watch()
                    time.sleep(0.2)
                fresh = db.one("bench_agents_fresh", seconds=2 * heartbeat)["n"]
                idle_rss = _rss_mb(pools)
                ui.note(f"wake latency: {wake_samples} tasks one at a time, {agents} idle agents")
                wakes = _wake_latency(db, client, wake_samples, watch)
                ui.note(f"burst: {tasks} tasks on {agents} thread agents")
                threads_per_s = _burst(db, client, tasks, watch)
                busy_rss = _rss_mb(pools)
                ui.note(f"hold: {agents} agents at work on {HOLD_TASK_SECONDS:g} s tasks, a {HOLD_LEASE_SECONDS:g} s lease")
                hold = _hold(db, client, agents, watch)
                fresh_after = db.one("bench_agents_fresh", seconds=2 * heartbeat)["n"]
            finally:
                for pool in pools:
                    _stop(pool)
            db.execute("bench_agents_retire", prefix="th")
            ui.note(f"burst: {tasks} tasks on {PREFORK_AGENTS} prefork agents")
            log = logs / "prefork.log"
            prefork = _spawn(["-m", "phoenix_board.cli", "workers", "--team", TEAM, "--agents", str(PREFORK_AGENTS),
                              "--name", "pf", "--loglevel", "WARNING", "--metrics-port", "0"], env, log)
            try:
                _wait(lambda: db.one("bench_e2e_live_agents")["n"] >= PREFORK_AGENTS, 120, "the prefork agents",
                      prefork, log)
                prefork_per_s = _burst(db, client, tasks, lambda: False)
                prefork_rss = _rss_mb([prefork])
            finally:
                _stop(prefork)
    rss_per_agent = max(idle_rss, busy_rss) / agents
    p99 = _pct(wakes, 0.99)
    return {
        "agents": agents, "processes": processes, "connections_per_process": connections, "tasks": tasks,
        "start_s": round(start_s, 1),
        "rss_mb_total": round(max(idle_rss, busy_rss), 1),
        "rss_mb_per_agent": round(rss_per_agent, 3),
        "db_connections_max": peak,
        "db_connections_total_max": peak_total,
        "heartbeats_fresh": min(fresh, fresh_after),
        "heartbeat_window_s": 2 * heartbeat,
        "wake_samples": len(wakes),
        "wake_p50_ms": round(_pct(wakes, 0.5), 2),
        "wake_p99_ms": round(p99, 2),
        "burst_threads_per_s": round(threads_per_s, 1),
        "burst_prefork16_per_s": round(prefork_per_s, 1),
        "burst_ratio": round(threads_per_s / prefork_per_s, 3),
        "prefork16_rss_mb_per_agent": round(prefork_rss / PREFORK_AGENTS, 1),
        **hold,
        "targets": {"rss_mb_per_agent <= 5": rss_per_agent <= 5, "db_connections_max <= 50": peak <= 50,
                    "all heartbeats fresh": min(fresh, fresh_after) >= agents, "wake_p99_ms <= 50": p99 <= 50},
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }


def agents_cmd(
    agents: int = typer.Option(1000, "--agents", min=1, max=10_000, help="Thread agents, over all processes."),
    processes: int = typer.Option(4, "--processes", min=1, max=64, help="Worker processes of --pool threads."),
    connections: int = typer.Option(10, "--connections", min=1, max=100,
                                    help="Database connections each process shares among its agents."),
    tasks: int = typer.Option(1000, "--tasks", min=10, help="Tasks in each burst (threads, then 16 prefork agents)."),
    wake_samples: int = typer.Option(100, "--wake-samples", min=1, max=5000, help="Tasks sent one at a time."),
    keep_logs: bool = typer.Option(False, "--keep-logs", help="Keep this run's folder of logs (its path is printed)."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """A thousand agents as threads: memory and connections per agent, heartbeats, wake latency, a burst
    against 16 prefork agents."""
    settings = toolkit.settings()
    with embedded.database_url(settings) as url:
        result = run(url, settings, agents, processes, connections, tasks, wake_samples, Console(stderr=True),
                     keep_logs=keep_logs)
    if as_json:
        typer.echo(render.dumps(result))
    else:
        for key, value in result.items():
            render.console.print(f"{key}: {value}")
