"""``phoenix-board bench board``: the board's hot paths on a large board, each next to a baseline
measured in the same run on the same server (DESIGN.md, "Performance").

**What is measured.** On a scratch board seeded with ``--tasks`` tasks (default a million) and
``--agents`` agents of history:

* *claim and complete*: 8 threads, each acting for its own agent registered through
  ``agents.register``, claim (``lifecycle.claim``) and complete (``lifecycle.result``) tasks through
  the board's API for ``--seconds``; tasks completed per second.
* *the baseline*: the same 8 threads on the same pool run the smallest queue that still does the
  job: one SKIP LOCKED ``UPDATE ... RETURNING`` to claim and one ``UPDATE`` to complete, on a
  table of three columns with a partial index on open rows. ``claim_ratio`` is board / baseline.
* *CPU per task*: in each timed run, the CPU this process spent (all its threads) and the CPU
  the server's backends of the bench's pool spent (``harness/bench/cpu.py``; only where the server
  runs on this host), per task finished. Where the bench and the server share the cores, the
  throughput ratio follows the CPU ratio (``cpu_ratio``): these say why ``claim_ratio`` is what it
  is, and which side's cost sets it.
* *a hot page*: ``ranking.page(db, "hot", limit=50)``, one thread, latency percentiles; a second
  measurement varies the team filter and follows cursors up to five pages deep.
* *votes*: 8 threads voting up, down or retracting at random on the 10 hottest tasks through
  ``votes.vote``; afterwards every task's counters must equal its rows in ``task_votes``.

**Why the baseline is fair.** Both run in one process against one database, through the same
``Database`` pool and the same ``Database.one`` path (pool checkout, autocommit, psycopg's
prepared statements, the retry loop), with two round trips and two commits per task, and take
their work from a partial index in queue order with SKIP LOCKED. What the ratio leaves is exactly
what the board adds: its rules (agent row lock, stress cap, fencing token, dependencies), the
history and counters it writes in the same transactions, and the indexes of a wide table. The
runs alternate (baseline, board, baseline, board, ...) and each side reports its best run, so
noise from the machine hits both alike; every run is reported too.

**Why a scratch database.** The numbers need a board of a known size and shape, and a benchmark
must never write into someone's board. The scratch database ``phoenix_bench_<random>`` lives on
the server of the configured board (the embedded one when ``PHOENIX_DATABASE_URL`` is unset) and
is dropped at the end, also on Ctrl-C, unless ``--keep``. Seeding is set-based SQL in chunks
(``harness/sql/bench.sql``) followed by ``VACUUM (ANALYZE)``, as a board that has run a while.

There are no pass/fail timings in tests: the targets are reported with a boolean each, nothing
asserts them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import operator
import os
import platform
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from phoenix_board.board import agents, embedded, errors, lifecycle, ranking, votes
from phoenix_board.board.db import Database
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.bench import cpu, wal
from phoenix_board.harness.queries import database, queries
from phoenix_board.harness.scratch import Ui, scratch_database, translated

TEAM = "alpha_delta"  # the bench agents' team; every seeded team has open tasks
TEAMS = 3  # the teams 0001_board.sql seeds; open tasks are spread over all of them
SEED_PREFIX = "bench-seed-"
CHUNK = 50_000  # tasks per seeding statement: one progress step, bounded memory for its CTEs
WINDOW_SHARE = 0.05  # of the tasks, the newest inside Lemmy's 7-day hot window
SEED_WORKERS = max(1, min(4, os.cpu_count() or 1))  # seeding sessions at once
APPLICATION_NAME = "phoenix-bench"  # the pool's backends, found by it to read their CPU
POOL_SIZE = 12  # 8 threads + the main thread + slack: nobody waits for a connection
WARMUP_PER_THREAD = 20  # psycopg prepares a statement after 5 runs on a connection; 20 covers the pool
PAGE_WARMUP = 100
VOTE_TASKS = 10
VOTERS = 200
# Generous throughputs, used only to size the supply of open work so that a timed run does not run
# dry (a run that does still reports honestly: its rate is over the time it had work, `exhausted`).
CLAIM_CEILING_PER_S = 3_000
BARE_CEILING_PER_S = 20_000
TARGETS: dict[str, tuple[str, Any]] = {
    "claim_ratio": (">=", 0.6),
    "hot_page_p99_ms": ("<=", 2.0),
    "votes_exact": ("==", True),
    "wal_bytes_per_task": ("<=", 2_000),
}
_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq}


@dataclasses.dataclass(frozen=True)
class Config:
    tasks: int = 1_000_000
    agents: int = 1_000
    seconds: float = 5.0  # each timed phase (each claim run, the vote phase)
    rounds: int = 2  # baseline/board pairs
    threads: int = 8
    pages: int = 2_000  # timed hot-page calls per measurement
    keep: bool = False
    seed: float = 0.42  # setseed(): the same shape of board on every run

    def __post_init__(self) -> None:
        if self.tasks < 1_000:
            raise errors.InvalidInput(f"--tasks must be at least 1000, not {self.tasks}")
        if self.agents < 2 * TEAMS:
            # each task needs an author and a different executor on its team
            raise errors.InvalidInput(f"--agents must be at least {2 * TEAMS}, not {self.agents}")
        if not 0 < self.seconds <= 3_600:
            raise errors.InvalidInput(f"--seconds must be between 0 and 3600, not {self.seconds}")
        if not 1 <= self.rounds <= 20 or not 1 <= self.threads <= POOL_SIZE - 2 or self.pages < 1:
            raise errors.InvalidInput("rounds must be 1-20, threads 1-10 and pages at least 1")

    @property
    def recent_tasks(self) -> int:
        return max(1, round(self.tasks * WINDOW_SHARE))

    @property
    def open_tasks(self) -> int:
        """Open tasks over all teams: enough for every board run of the bench team, at most half the board."""
        needed = TEAMS * (self.rounds * self.seconds * CLAIM_CEILING_PER_S + WARMUP_PER_THREAD * self.threads)
        return min(self.tasks // 2, max(self.tasks // 10, math.ceil(needed)))

    @property
    def bare_rows(self) -> int:
        return math.ceil(self.rounds * self.seconds * BARE_CEILING_PER_S) + WARMUP_PER_THREAD * self.threads


@dataclasses.dataclass(frozen=True)
class Run:
    """One timed run: how much work finished in how long; `exhausted` when a thread found none left."""

    kind: str
    done: int
    elapsed: float
    exhausted: bool
    cpu: dict[str, float | None] | None = None  # CPU seconds the run spent by part, when it was metered

    @property
    def per_s(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    def cpu_ms_per_task(self) -> dict[str, float | None]:
        """Milliseconds of CPU per finished task: this process's (every thread) and the server's."""
        return cpu.per_task_ms(self.cpu or {"client": None, "server": None}, self.done)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "per_s": round(self.per_s, 1), "done": self.done,
                "seconds": round(self.elapsed, 3), "exhausted": self.exhausted,
                **({} if self.cpu is None else
                   {f"{side}_cpu_ms_per_task": v for side, v in self.cpu_ms_per_task().items()})}


# --- seeding --------------------------------------------------------------------------------


@contextlib.contextmanager
def _seeding_session(url: str) -> Iterator[tuple[psycopg.Connection[Any], bool]]:
    """A connection of its own, outside the pool, so that its settings never reach a timed phase.
    -> (connection, whether foreign-key triggers are skipped)"""
    with translated(), psycopg.connect(url, autocommit=True, application_name="phoenix-board bench seed") as conn:
        conn.execute(queries()["bench_seed_no_jit"])
        try:
            conn.execute(queries()["bench_seed_unchecked"])
            unchecked = True
        except psycopg.errors.InsufficientPrivilege:
            unchecked = False  # not a superuser: the foreign keys are checked, at about twice the time
        yield conn, unchecked


def _join_all(threads: list[threading.Thread], stop: threading.Event) -> None:
    """Starts and joins the threads; on Ctrl-C tells them to stop and waits for their statements."""
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)


def _seed_tasks(url: str, config: Config, now: datetime, advance: Callable[[int], None]) -> bool:
    """Seeds the task chunks on SEED_WORKERS sessions at once. -> whether foreign keys were skipped"""
    chunks: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
    for first in range(1, config.tasks + 1, CHUNK):
        chunks.put((first, min(first + CHUNK - 1, config.tasks)))
    stop = threading.Event()
    failures: list[BaseException] = []
    unchecked: list[bool] = []

    def worker() -> None:
        try:
            with _seeding_session(url) as (conn, skipped):
                unchecked.append(skipped)
                while not stop.is_set():
                    try:
                        first, last = chunks.get_nowait()
                    except queue.Empty:
                        return
                    # seeded per chunk, not per session: the board's shape does not depend on which
                    # session took which chunk
                    conn.execute(queries()["bench_seed_random"], {"seed": random.Random(config.seed + first).uniform(-1, 1)})
                    conn.execute(queries()["bench_seed_tasks"], {
                        "prefix": SEED_PREFIX, "first": first, "last": last, "total": config.tasks,
                        "open": config.open_tasks, "recent": config.recent_tasks, "now": now,
                    })
                    advance(last - first + 1)
        except BaseException as exc:
            failures.append(exc)
            stop.set()

    _join_all([threading.Thread(target=worker, name=f"bench-seed-{i}", daemon=True) for i in range(SEED_WORKERS)], stop)
    if failures:
        raise failures[0]
    return all(unchecked)


def seed(url: str, db: Database, config: Config, ui: Ui) -> float:
    """Writes the board's history (harness/sql/bench.sql) and the baseline's table; returns seconds taken."""
    started = time.perf_counter()
    now = datetime.now(UTC)  # one clock for every chunk: the board as of the end of its history
    with ui.progress("seeding agents", config.agents) as advance, _seeding_session(url) as (conn, _):
        conn.execute(queries()["bench_seed_agents"], {"prefix": SEED_PREFIX, "first": 0, "last": config.agents - 1, "now": now})
        advance(config.agents)
    with ui.progress("seeding tasks", config.tasks) as advance:
        if not _seed_tasks(url, config, now, advance):
            ui.note("foreign keys were checked while seeding (not a superuser), which takes about twice as long")
    ui.note("agents' counters, the baseline's table, VACUUM (ANALYZE), CHECKPOINT")
    db.execute("bench_seed_agent_counters")
    db.execute("bench_bare_create")
    db.execute("bench_bare_index")
    db.execute("bench_bare_fill", rows=config.bare_rows)
    db.execute("bench_vacuum")
    try:
        db.execute("bench_checkpoint")
    except errors.BoardError as exc:  # needs superuser or pg_checkpoint; it only moves noise out of the runs
        ui.note(f"no CHECKPOINT ({exc.message})")
    return time.perf_counter() - started


# --- timed phases ---------------------------------------------------------------------------


def concurrently(kind: str, threads: int, seconds: float, step: Callable[[int], bool], limit: int | None = None,
                 meter: cpu.Meter | None = None) -> Run:
    """Runs ``step(thread)`` in each thread until ``seconds`` pass (or ``limit`` steps per thread);
    a step returns False when it found no work. The clock (and the ``meter``, if any) starts when
    the last thread is ready."""
    start = [0.0]
    cpu_start: list[cpu.Reading] = []

    def begin() -> None:
        if meter is not None:
            cpu_start.append(meter.read())
        start[0] = time.perf_counter()

    barrier = threading.Barrier(threads, action=begin)
    stop = threading.Event()
    done = [0] * threads
    ends = [0.0] * threads
    dry = [False] * threads
    failures: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            deadline = start[0] + seconds
            while not stop.is_set() and time.perf_counter() < deadline and (limit is None or done[i] < limit):
                if not step(i):
                    dry[i] = True
                    break
                done[i] += 1
        except BaseException as exc:  # surfaced in the main thread; the others stop too
            failures.append(exc)
            stop.set()
            barrier.abort()
        finally:
            ends[i] = time.perf_counter()

    _join_all([threading.Thread(target=worker, args=(i,), name=f"bench-{kind}-{i}", daemon=True)
               for i in range(threads)], stop)
    if failures:
        raise failures[0]
    spent = cpu.spent(cpu_start[0], meter.read()) if meter is not None and cpu_start else None
    return Run(kind, sum(done), max(ends) - start[0], any(dry), spent)


def claim_runs(db: Database, config: Config, ui: Ui) -> list[Run]:
    """Baseline and board runs, alternating, after a warm-up of each."""
    claimers = [
        agents.register(db, {"codename": f"bench-claimer-{i}", "team": TEAM, "role": "bench"})[0].id
        for i in range(config.threads)
    ]

    def board_step(i: int) -> bool:
        task = lifecycle.claim(db, claimers[i])
        if task is None:
            return False
        lifecycle.result(db, task.id, claimers[i], task.attempt, quality=1.0)
        return True

    def bare_step(_i: int) -> bool:
        row = db.one("bench_bare_claim")
        if row is None:
            return False
        db.execute("bench_bare_complete", id=row["id"])
        return True

    steps = {"bare": bare_step, "board": board_step}
    for kind, step in steps.items():
        ui.note(f"warm-up: {kind}")
        concurrently(kind, config.threads, math.inf, step, limit=WARMUP_PER_THREAD)
    # after the warm-up, every connection of the pool is open
    meter = cpu.Meter({"client": cpu.this_process, "server": cpu.server_backends(db, APPLICATION_NAME)})
    runs = []
    for number in range(1, config.rounds + 1):
        for kind, step in steps.items():
            ui.note(f"round {number}/{config.rounds}: {kind} claim + complete for {config.seconds:g} s")
            runs.append(concurrently(kind, config.threads, config.seconds, step, meter=meter))
    return runs


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: a latency some call actually had."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _latencies_ms(calls: int, call: Callable[[int], None]) -> list[float]:
    out = []
    for i in range(calls):
        started = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def hot_pages(db: Database, config: Config, ui: Ui) -> dict[str, float]:
    """Latency of the first page of the hot sort; then with team filters and cursors up to 5 pages deep."""
    ui.note(f"hot page: {config.pages} calls, then {config.pages} with team filters and cursors")
    for _ in range(PAGE_WARMUP):
        ranking.page(db, "hot", limit=50)
    plain = _latencies_ms(config.pages, lambda _i: ranking.page(db, "hot", limit=50))

    teams: list[str | None] = [None, "alpha_delta", "epsilon_zeta", "iota"]
    cursors: dict[str | None, tuple[str | None, int]] = {t: (None, 0) for t in teams}

    def varied(i: int) -> None:
        team = teams[i % len(teams)]
        cursor, depth = cursors[team]
        _rows, nxt = ranking.page(db, "hot", team=team, limit=50, cursor=cursor)
        # follow the chain to page 5, then start again at the top
        cursors[team] = (nxt, depth + 1) if nxt and depth < 4 else (None, 0)

    for i in range(PAGE_WARMUP):
        varied(i)
    mixed = _latencies_ms(config.pages, varied)
    return {
        "hot_page_p50_ms": round(_percentile(plain, 0.50), 3),
        "hot_page_p99_ms": round(_percentile(plain, 0.99), 3),
        "hot_page_varied_p50_ms": round(_percentile(mixed, 0.50), 3),
        "hot_page_varied_p99_ms": round(_percentile(mixed, 0.99), 3),
    }


def vote_phase(db: Database, config: Config, ui: Ui) -> dict[str, Any]:
    """Concurrent votes on the hottest tasks; then each task's counters against its vote rows."""
    targets = [r["id"] for r in db.all("bench_vote_targets", limit=VOTE_TASKS)]
    voters: list[UUID] = [r["id"] for r in db.all("bench_voters", prefix=SEED_PREFIX, tasks=targets, limit=VOTERS)]
    # a tiny board may have no agent left that neither wrote nor worked these tasks
    voters += [agents.register(db, {"codename": f"bench-voter-{i}", "team": TEAM, "role": "bench"})[0].id
               for i in range(max(0, 2 * config.threads - len(voters)))]
    rngs = [random.Random(config.seed + i) for i in range(config.threads)]

    def step(i: int) -> bool:
        rng = rngs[i]
        votes.vote(db, rng.choice(targets), rng.choice(voters), rng.choice((1, -1, 0)))
        return True

    ui.note(f"votes: {config.threads} threads on {len(targets)} tasks for {config.seconds:g} s")
    run = concurrently("votes", config.threads, config.seconds, step)
    checked = db.all("bench_votes_check", tasks=targets)
    exact = len(checked) == len(targets) == VOTE_TASKS and all(
        r["upvotes"] == r["up_rows"] and r["downvotes"] == r["down_rows"] for r in checked)
    return {"votes_per_s": round(run.per_s, 1), "votes_cast": run.done, "votes_exact": exact}


# --- the whole benchmark --------------------------------------------------------------------


def cpu_figures(board: Run, bare: Run) -> dict[str, float | None]:
    """CPU per task of each side's best run, and what they predict: where the bench and the server
    share the cores, the throughput ratio is about the inverse ratio of the CPU each side spends per
    task (``cpu_ratio``; None where the server's CPU cannot be read here)."""
    board_ms, bare_ms = board.cpu_ms_per_task(), bare.cpu_ms_per_task()
    return {
        "client_cpu_ms_per_task": board_ms["client"], "server_cpu_ms_per_task": board_ms["server"],
        "bare_client_cpu_ms_per_task": bare_ms["client"], "bare_server_cpu_ms_per_task": bare_ms["server"],
        "cpu_ratio": cpu.ratio(board_ms, bare_ms),
    }


def run(server_url: str, config: Config, console: Console | None = None) -> dict[str, Any]:
    """Seeds a scratch database on the server of ``server_url``, measures, drops it; returns the figures."""
    ui = Ui(console)
    with scratch_database(server_url, config.keep, ui) as (name, url):
        with database(url, min_size=POOL_SIZE, max_size=POOL_SIZE, name=APPLICATION_NAME) as db:
            server = db.one("bench_server_info")
            seed_seconds = seed(url, db, config, ui)
            if not db.one("bench_open_count", team=TEAM)["n"]:
                raise errors.Conflict(f"the seeded board has no open task on team {TEAM}")
            runs = claim_runs(db, config, ui)
            ui.note(f"WAL costs: each step of {wal.TASKS} tasks, board and baseline")
            costs = wal.costs(db, bare_first_id=config.bare_rows + 1)
            pages = hot_pages(db, config, ui)
            voting = vote_phase(db, config, ui)

    # each side's best run: noise only ever slows a run down, and it had the same chance on both
    best_bare = max((r for r in runs if r.kind == "bare"), key=lambda r: r.per_s)
    best_board = max((r for r in runs if r.kind == "board"), key=lambda r: r.per_s)
    bare, board = best_bare.per_s, best_board.per_s
    result: dict[str, Any] = {
        "claim_complete_per_s": round(board, 1),
        "bare_claim_complete_per_s": round(bare, 1),
        "claim_ratio": round(board / bare, 3) if bare else 0.0,
        "claim_statistic": f"best of {config.rounds} alternating runs per side",
        **cpu_figures(best_board, best_bare),
        "claim_runs": [r.as_json() for r in runs],
        **costs,
        **pages,
        **voting,
        "tasks": config.tasks,
        "agents": config.agents,
        "open_tasks": config.open_tasks,
        "seconds": config.seconds,
        "threads": config.threads,
        "hot_page_calls": config.pages,
        "seed_seconds": round(seed_seconds, 1),
        "postgres_version": server["postgres_version"],
        "shared_buffers": server["shared_buffers"],
        "synchronous_commit": server["synchronous_commit"],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "database": name,
        "kept": config.keep,
    }
    result["targets"] = {
        key: {"target": f"{op} {str(limit).lower()}", "value": result[key],
              "met": result[key] is not None and bool(_OPS[op](result[key], limit))}
        for key, (op, limit) in TARGETS.items()
    }
    result["targets_met"] = all(t["met"] for t in result["targets"].values())
    return result


def table(result: dict[str, Any]) -> Table:
    out = Table(title=f"phoenix-board bench board: {result['tasks']:,} tasks, {result['agents']:,} agents",
                title_justify="left")
    for name, justify in (("figure", "left"), ("value", "right"), ("target", "left")):
        out.add_column(name, justify=justify)
    targets = result["targets"]
    for key, value in result.items():
        if key in ("targets", "claim_runs") or isinstance(value, dict):
            continue
        mark = ""
        if key in targets:
            mark = f"{targets[key]['target']} " + ("[green]met[/green]" if targets[key]["met"] else "[red]missed[/red]")
        if value is None:  # a figure this host could not read (the server's CPU elsewhere)
            shown = "n/a"
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            shown = f"{value:,}"
        else:
            shown = str(value)
        out.add_row(key, shown, mark)
    for r in result["claim_runs"]:
        out.add_row(f"  run: {r['kind']}", f"{r['per_s']:,}/s", f"{r['done']:,} in {r['seconds']} s" + (" (ran dry)" if r["exhausted"] else ""))
    return out


def breakdown_table(result: dict[str, Any]) -> Table:
    """Per task, by step and relation: where the WAL bytes and index inserts go (``--breakdown``)."""
    costs = result["wal_costs"]
    out = Table(title=f"WAL per task by step and relation ({costs['method']}, {costs['tasks_per_step']} tasks a step)",
                title_justify="left")
    out.add_column("step / relation", min_width=34, no_wrap=True)
    for name in ("bytes", "fpi", "records", "index ins.", "updates", "HOT"):
        out.add_column(name, justify="right")

    def cells(fig: dict[str, float]) -> list[str]:
        return [f"{fig['bytes']:,.0f}", f"{fig['fpi_bytes']:,.0f}", f"{fig['records']:.1f}",
                f"{fig['index_inserts']:.1f}", f"{fig['heap_updates']:.2f}", f"{fig['hot_updates']:.2f}"]

    for side in ("board", "bare"):
        for step, fig in costs[side].items():
            out.add_row(f"[bold]{side} {step}[/bold]", *cells(fig))
            for rel, r in fig["relations"].items():
                out.add_row(f"  {rel}", *cells(r))
    return out


def board_cmd(
    tasks: int = typer.Option(1_000_000, "--tasks", help="Tasks on the seeded board (at least 1000)."),
    agents_: int = typer.Option(1_000, "--agents", help=f"Agents on the seeded board (at least {2 * TEAMS})."),
    seconds: float = typer.Option(5.0, "--seconds", help="Length of each timed phase."),
    rounds: int = typer.Option(2, "--rounds", help="Baseline/board pairs of claim runs (1-20)."),
    keep: bool = typer.Option(False, "--keep", help="Keep the scratch database (its name is printed)."),
    breakdown: bool = typer.Option(False, "--breakdown",
                                   help="Also print the WAL per task by step and relation (always in --json)."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Claim/complete throughput next to a bare SKIP LOCKED queue, WAL and index inserts per task, hot-page latency, votes.

    Seeds a scratch database with --tasks tasks on the board's server, measures, then drops it.

    The server is the embedded one when PHOENIX_DATABASE_URL is unset. stdout: figures; stderr: progress.
    """
    # bounds are checked by Config, so that a bad value is a one-line error like every other
    config = Config(tasks=tasks, agents=agents_, seconds=seconds, rounds=rounds, keep=keep)
    with embedded.database_url(toolkit.settings()) as url:
        result = run(url, config, Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
    else:
        render.console.print(table(result))
        if breakdown:
            render.console.print(breakdown_table(result))
