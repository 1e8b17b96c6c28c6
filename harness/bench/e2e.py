"""``phoenix-board bench e2e``: the whole lifecycle through the queue next to Celery's own no-op.

**What is measured.** On a scratch database and a broker of its own (an embedded Valkey, or the
configured Redis under a queue prefix of its own), with ``--agents`` pool processes each time:

* *lifecycle*: ``--tasks`` tasks (handler ``noop``) are sent through the queue client to a
  ``phoenix-board workers`` pool, first ``BATCH`` to a message (``Client.submit_many``, the way a
  program submits work in bulk), then one message each (``Client.submit``); a pool process puts
  them on the board and wakes the team; woken agents claim, start and complete tasks until none is
  left. Tasks completed per second, from the first send to the last completion. ``ratio`` uses the
  batched run; the single-message run is reported beside it.
* *the baseline*: the same number of messages, sent the same way to a Celery worker with the
  same app settings (prefork, same concurrency, late acks, prefetch 1, JSON) whose task does
  nothing; messages acknowledged per second, from the first send until the queue and its unacked
  set are empty. ``ratio`` is lifecycle / baseline. Both sides include the producer's sends, as a
  program that submits work sees them. Runs alternate (baseline, lifecycle, ...) and each side
  reports its best.
* *wake latency*: with the agents idle, one task at a time is sent through the queue; the time from
  the send to the claim the board records (same host, same clock).
* *CPU per task*: in each timed run, the CPU spent per task (or message) by this process (the
  sends), the database server's backends of the scratch database, the broker (the embedded Valkey)
  and the side's worker processes (``harness/bench/cpu.py``; a part not on this host is None).
  ``cpu_ratio`` is the no-op's total over the lifecycle's: where every part shares the cores, about
  what ``ratio`` can be, and which part's cost keeps it there.
* *memory*: the resident set (and the unique set, which prefork's copy-on-write makes smaller) of
  the pool processes, per agent.

The baseline's worker and the board's run one after the other on the same broker with the same
number of processes, so the ratio compares what one task costs in each. No test asserts a timing.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import redis
import typer
from celery import shared_task
from rich.console import Console

from phoenix_board.board import embedded, errors
from phoenix_board.cli import render, toolkit
from phoenix_board.board.db import Database
from phoenix_board.harness.bench import cpu
from phoenix_board.harness.queries import database
from phoenix_board.harness.scratch import Ui, scratch_database
from phoenix_board.board.settings import Settings
from phoenix_board.workers import broker
from phoenix_board.workers.app import make_app
from phoenix_board.workers.client import Client

TEAM = "iota"
WAKE_SAMPLES = 200
BATCH = 100  # submissions to a message in the batched run (Client.submit_many)


# registered once: the baseline worker (noop_worker.py) imports this module by name and defines no task
@shared_task(name="phoenix.bench.noop", acks_late=True)  # as the board's messages (delivery.py)
def noop(body: dict[str, Any]) -> None:
    """Celery's own no-op: the baseline's task."""


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - kept open for the child
    return subprocess.Popen([sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


# A run's end is found by counting completed tasks in PostgreSQL, the server whose CPU the run
# measures: polled every 5 ms, the count took a fifth of a core from the agents it was timing.
# 50 ms of resolution is under half a percent of a run.
COMPLETION_POLL_SECONDS = 0.05


def _wait(predicate, timeout: float, what: str,  # type: ignore[no-untyped-def]
          proc: subprocess.Popen | None = None, log: Path | None = None, every: float = 0.005):
    end = time.monotonic() + timeout
    while not (value := predicate()):
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log else []
            where = f" (log: {log})" if log else ""
            raise errors.Unavailable(f"the bench worker stopped while waiting for {what}{where}: {' | '.join(tail)}")
        if time.monotonic() > end:
            raise errors.Unavailable(f"bench: timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return value


def _queue_drained(client: redis.Redis, queue: str) -> bool:
    # kombu's Redis transport keeps delivered, unacknowledged messages in the hash "unacked"
    return client.llen(queue) == 0 and client.hlen("unacked") == 0


def baseline(broker_url: str, settings: Settings, agents: int, tasks: int, env: dict[str, str], logs: Path,
             parts: dict[str, cpu.Part] | None = None) -> tuple[float, dict[str, float | None]]:
    """Celery no-op messages acknowledged per second, same broker and process count; and the CPU
    the run spent by part (``parts``, with the worker's process tree as ``workers``)."""
    queue = f"{settings.queue_prefix}.bench.noop"
    worker = _spawn(["-m", "phoenix_board.harness.bench.noop_worker", broker_url, queue, str(agents)], env, logs / "baseline.log")
    try:
        app = make_app(broker_url, settings)
        r = redis.Redis.from_url(broker_url)
        probe = app.send_task("phoenix.bench.noop", kwargs={"body": {}}, queue=queue)
        _wait(lambda: _queue_drained(r, queue), 60, "the baseline worker", worker, logs / "baseline.log")
        del probe
        meter = cpu.Meter({**(parts or {}), "workers": cpu.process_tree(worker.pid)})
        before = meter.read()
        start = time.perf_counter()
        for _ in range(tasks):
            app.send_task("phoenix.bench.noop", kwargs={"body": {}}, queue=queue)
        _wait(lambda: _queue_drained(r, queue), 600, "the baseline to drain", worker, logs / "baseline.log")
        per_s = tasks / (time.perf_counter() - start)
        return per_s, cpu.spent(before, meter.read())
    finally:
        _stop(worker)


def completions_from_now(db: Database) -> Callable[[], int]:
    """Counts the tasks completed from now on. Each of this run's tasks is submitted, so completed,
    after this instant and every earlier run's was completed before it; the count reads only this
    run's range of tasks_finished_idx (counting every completion took 2 ms a poll at 10,000)."""
    since = db.one("bench_e2e_clock")["at"]
    return lambda: db.one("bench_e2e_completed_since", since=since)["n"]


def lifecycle(db: Database, client: Client, tasks: int, batch: int | None,
              meter: cpu.Meter | None = None) -> tuple[float, dict[str, float | None]]:
    """Tasks submitted through the queue (one message each, or ``batch`` to a message) and
    completed by the agents, per second; and the CPU the run spent by part (empty without a meter)."""
    completed = completions_from_now(db)
    work = [{"title": f"bench {i}", "team": TEAM, "category": "noop"} for i in range(tasks)]
    before = meter.read() if meter else {}
    start = time.perf_counter()
    if batch:
        client.submit_many(work, batch)
    else:
        for task in work:
            client.submit(task)
    _wait(lambda: completed() >= tasks, 600, "the lifecycle run", every=COMPLETION_POLL_SECONDS)
    per_s = tasks / (time.perf_counter() - start)
    return per_s, cpu.spent(before, meter.read()) if meter else {}


def wake_latency(db: Database, client: Client, samples: int) -> list[float]:
    """ms from the send to the claim, with idle agents, one task at a time."""
    out = []
    for i in range(samples):
        key = f"wake-{uuid.uuid4()}"
        sent = datetime.now(UTC)
        client.submit({"title": f"wake {i}", "team": TEAM, "category": "noop"}, key)
        row = _wait(lambda: db.one("bench_e2e_claimed_at", key=key), 30, "a claim")
        out.append((row["claimed_at"] - sent).total_seconds() * 1000)
        _wait(lambda: db.one("bench_e2e_claimed_at", key=key)["status"] == "complete", 30, "a completion")
    return out


def memory_per_agent(worker: subprocess.Popen) -> tuple[float, float]:
    children = psutil.Process(worker.pid).children(recursive=True)
    pools = [c for c in children if "workers" not in " ".join(c.cmdline())] or children
    rss = [c.memory_info().rss for c in pools]
    uss = [c.memory_full_info().uss for c in pools]
    return statistics.mean(rss) / 2**20, statistics.mean(uss) / 2**20


def _run(kind: str, per_s: float, spent: dict[str, float | None], tasks: int) -> dict[str, Any]:
    return {"kind": kind, "per_s": round(per_s, 1), "cpu_ms_per_task": cpu.per_task_ms(spent, tasks)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@contextlib.contextmanager
def _broker(settings: Settings, folder: Path) -> Iterator[tuple[str, int | None]]:
    """The broker's URL, and its process where it is the embedded Valkey (None for a configured Redis)."""
    if settings.redis_url:
        yield settings.redis_url, None
        return
    server = broker.EmbeddedValkey(folder)
    try:
        url = server.start()
        yield url, server.pid
    finally:
        server.stop()


@contextlib.contextmanager
def run_folder(settings: Settings, keep: bool, ui: Ui) -> Iterator[Path]:
    """A folder of this run's own (``<data dir>/bench/<queue prefix>``): the pools' data dir, whose
    identity locks name their agents, the embedded Valkey's files and the logs. Two benchmarks at
    once on one host then share nothing: with one folder, the second pool was refused the first's
    agent names, two Valkeys appended to one file, and a failure's log tail showed the other run.
    Removed after a run that succeeded unless ``keep``; kept, and named, after one that failed."""
    folder = settings.data_dir.resolve() / "bench" / settings.queue_prefix
    folder.mkdir(parents=True)
    try:
        yield folder
    except BaseException:
        ui.note(f"this run's logs are kept in {folder}")
        raise
    if keep:
        ui.note(f"this run's logs are in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def run(server_url: str, settings: Settings, agents: int, tasks: int, console: Console | None = None,
        wake_samples: int = WAKE_SAMPLES, rounds: int = 2, keep_logs: bool = False) -> dict[str, Any]:
    ui = Ui(console)
    settings = settings.model_copy(update={"queue_prefix": f"bench{uuid.uuid4().hex[:8]}"})
    with run_folder(settings, keep_logs, ui) as logs, scratch_database(server_url, False, ui) as (_, url), \
            _broker(settings, logs) as (broker_url, broker_pid):
        env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": broker_url,
               "PHOENIX_QUEUE_PREFIX": settings.queue_prefix, "PHOENIX_DATA_DIR": str(logs)}
        run_settings = settings.model_copy(update={"database_url": url, "redis_url": broker_url})
        runs: list[dict[str, Any]] = []
        with database(url, max_size=2) as db, Client(run_settings) as client:
            log = logs / "workers.log"
            worker = _spawn(["-m", "phoenix_board.cli", "workers", "--team", TEAM, "--agents", str(agents),
                             "--name", "bench", "--loglevel", "WARNING", "--metrics-port", "0"], env, log)
            try:
                _wait(lambda: db.one("bench_e2e_live_agents")["n"] >= agents, 90, "the agents", worker, log)
                # whose CPU each run spends: this process (the sends), the database's backends, the
                # broker, and the side's worker processes (harness/bench/cpu.py)
                parts = {"sender": cpu.this_process, "database": cpu.server_backends(db),
                         "broker": cpu.process_tree(broker_pid)}
                meter = cpu.Meter({**parts, "workers": cpu.process_tree(worker.pid)})
                # alternate, so that the machine's noise hits both sides alike; each reports its best
                for r in range(1, rounds + 1):
                    ui.note(f"round {r}/{rounds}: Celery no-op, {agents} processes, {tasks} messages")
                    runs.append(_run("celery_noop", *baseline(broker_url, run_settings, agents, tasks, env, logs, parts),
                                     tasks))
                    ui.note(f"round {r}/{rounds}: {tasks} tasks through the queue, {BATCH} to a message")
                    runs.append(_run("lifecycle", *lifecycle(db, client, tasks, BATCH, meter), tasks))
                ui.note(f"{tasks} tasks through the queue, one message each")
                before = db.one("bench_e2e_submit_transactions")
                single_per_s, _ = lifecycle(db, client, tasks, None)
                after = db.one("bench_e2e_submit_transactions")
                # how many separate messages the workers wrote per transaction (workers/batching.py)
                single_batch = (after["submissions"] - before["submissions"]) / max(
                    after["transactions"] - before["transactions"], 1)
                ui.note(f"wake latency: {wake_samples} tasks one at a time")
                wakes = wake_latency(db, client, wake_samples)
                rss, uss = memory_per_agent(worker)
            finally:
                _stop(worker)
    best_noop = max((r for r in runs if r["kind"] == "celery_noop"), key=lambda r: r["per_s"])
    best_life = max((r for r in runs if r["kind"] == "lifecycle"), key=lambda r: r["per_s"])
    celery_per_s, lifecycle_per_s = best_noop["per_s"], best_life["per_s"]
    ratio = lifecycle_per_s / celery_per_s
    return {
        "agents": agents, "tasks": tasks,
        "lifecycle_per_s": round(lifecycle_per_s, 1),
        "celery_noop_per_s": round(celery_per_s, 1),
        "ratio": round(ratio, 3),
        "lifecycle_single_message_per_s": round(single_per_s, 1),
        "ratio_single_message": round(single_per_s / celery_per_s, 3),
        # issue 18: one submission to a message should not cost more than twice a batched one
        "single_message_to_batched": round(single_per_s / lifecycle_per_s, 3) if lifecycle_per_s else 0.0,
        "single_message_submissions_per_transaction": round(single_batch, 2),
        "submit_batch": BATCH,
        "runs": runs,
        "statistic": f"best of {rounds} alternating runs per side",
        # each side's best run: the CPU per task of its parts, and what they predict for the ratio
        "cpu_ms_per_task": {"lifecycle": best_life["cpu_ms_per_task"], "celery_noop": best_noop["cpu_ms_per_task"]},
        "cpu_ratio": cpu.ratio(best_life["cpu_ms_per_task"], best_noop["cpu_ms_per_task"]),
        "wake_p50_ms": round(_pct(wakes, 0.5), 2),
        "wake_p99_ms": round(_pct(wakes, 0.99), 2),
        "rss_mb_per_agent": round(rss, 1),
        "uss_mb_per_agent": round(uss, 1),
        # issue 18: 1.0 against Celery's no-op is the target, 1.5 the goal beyond it
        "targets": {"ratio >= 1.0": ratio >= 1.0, "ratio >= 1.5 (goal)": ratio >= 1.5,
                    "wake_p99_ms <= 25": _pct(wakes, 0.99) <= 25,
                    "single_message_to_batched >= 0.5": bool(lifecycle_per_s) and single_per_s / lifecycle_per_s >= 0.5},
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }


def e2e_cmd(
    agents: int = typer.Option(8, "--agents", min=1, max=64, help="Pool processes (agents) for both sides."),
    tasks: int = typer.Option(5000, "--tasks", min=100, help="Tasks (and baseline messages) per run."),
    rounds: int = typer.Option(2, "--rounds", min=1, max=10, help="Baseline/lifecycle pairs of runs."),
    keep_logs: bool = typer.Option(False, "--keep-logs", help="Keep this run's folder of logs (its path is printed)."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Full lifecycle through the queue against Celery's own no-op throughput, wake latency, memory."""
    settings = toolkit.settings()
    with embedded.database_url(settings) as url:
        result = run(url, settings, agents, tasks, Console(stderr=True), rounds=rounds, keep_logs=keep_logs)
    if as_json:
        typer.echo(render.dumps(result))
    else:
        for key, value in result.items():
            render.console.print(f"{key}: {value}")
