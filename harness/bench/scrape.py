"""``phoenix-board bench scrape``: what one Prometheus scrape of ``/metrics`` costs on a large board.

On a scratch board seeded like ``bench board``'s (``--tasks``, default 1,000,000), with
``--deltas`` task-count deltas not yet folded by the beat (default 500: five seconds of 100
transitions a second), the exporter serves ``/metrics`` over HTTP as the monitor role, exactly as
``phoenix-board metrics`` does, and ``--scrapes`` GETs are timed (p50, p99, max). The baseline,
measured in the same run on the same board: the task figures counted over every row, as each
scrape did before the kept counts (``metrics_board_counted``, with the server's JIT setting), timed
``--baseline-scrapes`` times. Target: scrape p99 <= 100 ms.

What the kept counts cost the board: ``--threads`` agents claim and complete tasks for
``--seconds`` with the counting triggers on and off, alternating ``--rounds`` times (best run of
each side; the triggers are turned back on at the end and the counts rebuilt).
"""

from __future__ import annotations

import os
import platform
import time
import urllib.request
from typing import Any

import typer
from rich.console import Console

from phoenix_board.board import agents, embedded, errors, lifecycle, migrate
from phoenix_board.cli import render, toolkit
from phoenix_board.board.db import Database
from phoenix_board.harness.bench.board import TEAM, Config, _percentile, concurrently, seed
from phoenix_board.harness.queries import database
from phoenix_board.harness.scratch import Ui, scratch_database
from phoenix_board.board.settings import Settings
from phoenix_board.metrics import exporter
from phoenix_board.workers import broker

TARGET_P99_MS = 100.0
WARMUP_SCRAPES = 5  # psycopg prepares statements after 5 runs; the pool's connections open


def _timed_ms(calls: int, call: Any) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(_percentile(values, 0.5), 2), "p99": round(_percentile(values, 0.99), 2),
            "max": round(max(values), 2)}


def transition_runs(db: Database, config: Config, ui: Ui) -> dict[str, Any]:
    """Claim + complete throughput with the counting triggers on and off, alternating."""
    claimers = [agents.register(db, {"codename": f"bench-scrape-{i}", "team": TEAM, "role": "bench"})[0].id
                for i in range(config.threads)]

    def step(i: int) -> bool:
        task = lifecycle.claim(db, claimers[i])
        if task is None:
            return False
        lifecycle.result(db, task.id, claimers[i], task.attempt, quality=1.0)
        return True

    concurrently("warm-up", config.threads, float("inf"), step, limit=20)
    best = {"on": 0.0, "off": 0.0}
    try:
        for number in range(1, config.rounds + 1):
            for side in ("off", "on"):
                db.execute("bench_scrape_counters_off" if side == "off" else "bench_scrape_counters_on")
                ui.note(f"round {number}/{config.rounds}: claim + complete, counting triggers {side}")
                run = concurrently(side, config.threads, config.seconds, step)
                if run.exhausted:
                    raise errors.Conflict("the seeded board ran out of open tasks; lower --seconds or --rounds")
                best[side] = max(best[side], run.per_s)
    finally:
        db.execute("bench_scrape_counters_on")
        db.one("task_counts_rebuild")  # the runs with triggers off left the counts behind
    return {"claim_complete_per_s_counting": round(best["on"], 1),
            "claim_complete_per_s_not_counting": round(best["off"], 1),
            "counting_ratio": round(best["on"] / best["off"], 3) if best["off"] else None}


def run(server_url: str, config: Config, scrapes: int, baseline_scrapes: int, deltas: int,
        console: Console | None = None) -> dict[str, Any]:
    ui = Ui(console)
    with scratch_database(server_url, config.keep, ui) as (name, url):
        with database(url, max_size=config.threads + 2, name="phoenix-bench") as db:
            seed_seconds = seed(url, db, config, ui)
            ui.note("recounting task_counts (the seed may bypass triggers), adding unfolded deltas")
            db.one("task_counts_rebuild")
            server = db.one("bench_server_info")
            jit = db.one("bench_scrape_jit")["jit"]
            transitions = transition_runs(db, config, ui)
            db.execute("bench_scrape_deltas", n=deltas)
            ui.note(f"baseline: counting every row, {baseline_scrapes} times")
            baseline = _timed_ms(baseline_scrapes, lambda: db.all("metrics_board_counted"))
        monitor = migrate.role_names(Settings().role_prefix)["monitor"]
        with Database(url, max_size=2, name="phoenix-metrics", role=monitor) as mdb:
            port = broker.free_port()
            http, _ = exporter.serve(mdb, Settings(redis_url=None), port, "127.0.0.1")
            try:
                def scrape() -> None:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as response:
                        body = response.read()
                    if b"phoenix_exporter_database_up 1.0" not in body:
                        raise errors.Unavailable("the exporter could not read the board during the bench")

                _timed_ms(WARMUP_SCRAPES, scrape)
                ui.note(f"{scrapes} scrapes of /metrics over HTTP")
                timed = _timed_ms(scrapes, scrape)
            finally:
                http.shutdown()
    scrape_ms, baseline_ms = _summary(timed), _summary(baseline)
    return {
        "tasks": config.tasks,
        "unfolded_deltas": deltas,
        "scrapes": scrapes,
        "scrape_ms": scrape_ms,
        "baseline_scrapes": baseline_scrapes,
        "baseline_counted_ms": baseline_ms,
        "baseline_over_scrape_p50": round(baseline_ms["p50"] / scrape_ms["p50"], 1) if scrape_ms["p50"] else None,
        "targets": {"scrape p99 <= 100 ms": {"value": scrape_ms["p99"], "met": scrape_ms["p99"] <= TARGET_P99_MS}},
        **transitions,
        "transition_statistic": f"best of {config.rounds} alternating runs of {config.seconds:g} s per side, "
                                f"{config.threads} threads",
        "jit": jit,
        "seed_seconds": round(seed_seconds, 1),
        "postgres_version": server["postgres_version"],
        "shared_buffers": server["shared_buffers"],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "database": name,
        "kept": config.keep,
    }


def scrape_cmd(
    tasks: int = typer.Option(1_000_000, "--tasks", help="Tasks on the seeded board (at least 1000)."),
    scrapes: int = typer.Option(200, "--scrapes", help="Timed scrapes of /metrics (10-10000)."),
    baseline_scrapes: int = typer.Option(5, "--baseline-scrapes", help="Timed runs of the baseline (1-100)."),
    deltas: int = typer.Option(500, "--deltas", help="Task-count deltas left unfolded (0-1000000)."),
    seconds: float = typer.Option(3.0, "--seconds", help="Length of each claim run, triggers on or off."),
    rounds: int = typer.Option(3, "--rounds", help="Alternating on/off pairs of claim runs (1-20)."),
    threads: int = typer.Option(4, "--threads", help="Claiming threads (1-10)."),
    keep: bool = typer.Option(False, "--keep", help="Keep the scratch database (its name is printed)."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Cost of one /metrics scrape on a large board, next to counting every row (the old scrape)."""
    if not 10 <= scrapes <= 10_000 or not 1 <= baseline_scrapes <= 100 or not 0 <= deltas <= 1_000_000:
        raise errors.InvalidInput("--scrapes must be 10-10000, --baseline-scrapes 1-100 and --deltas 0-1000000")
    config = Config(tasks=tasks, keep=keep, seconds=seconds, rounds=rounds, threads=threads)
    with embedded.database_url(toolkit.settings()) as url:
        result = run(url, config, scrapes, baseline_scrapes, deltas, Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
    else:
        for key, value in result.items():
            render.console.print(f"{key}: {value}")
