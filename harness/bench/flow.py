"""``phoenix-board bench flow``: what flow control (docs/concepts/flow-control.md) costs a claim,
and how closely a rate limit holds across three pools.

**What is measured**, on a scratch database (``harness/scratch.py``), by three connection pools
(three hosts' worth of agents), ``--threads`` threads each, every thread an agent of its own that
claims (``lifecycle.claim``) and completes (``lifecycle.result``) tasks through the board's API:

* *throughput*: claims per second on a team with a rate limit (set far above what the machine can
  claim, so that it never holds a claim back but is charged on every claim, under its row's lock)
  and tasks carrying concurrency keys (``--keys`` keys whose limits add up to more than the
  threads, so that they never hold a claim back either but are counted on every claim, under the
  key's lock), next to the same claims on a team with no gate and tasks with no key (the
  baseline). Runs alternate (baseline, gated, ...) ``--rounds`` times; each side reports its best.
  ``ratio`` = gated / baseline (target >= 0.8).
* *rate accuracy*: a category limited to ``--rate`` claims per minute (burst 1: no claim ahead
  of its schedule), the three pools claiming as fast as they can for ``--seconds``; the rate
  achieved after the first second from the claims' own times in ``task_events``. ``rate_error`` = |achieved / limit - 1|
  (target <= 0.05). The limit is never exceeded by construction (each claim is due one spacing
  after the one before); the error is how much of it the fleet failed to use.

Nothing here is a test assertion: the targets are reported with a boolean each.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import typer
from rich.console import Console

from phoenix_board.board import agents, embedded, errors, gates, lifecycle
from phoenix_board.board.db import Database
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.queries import database
from phoenix_board.harness.scratch import Ui, scratch_database

POOLS = 3
GATED_TEAM, PLAIN_TEAM, RATE_TEAM = "alpha_delta", "epsilon_zeta", "iota"
RATE_CATEGORY = "limited"
UNBINDING_RATE = 1_000_000  # claims per minute: the rate limit's most, far above what a machine claims
TARGET_RATIO = 0.8
TARGET_RATE_ERROR = 0.05
KEY_LIMIT = 16  # tasks of one key in flight: with --keys 4, 64 across more threads than a run has
SUPPLY_PER_S = 1_500  # generous claims per second per run, to size the tasks so a run does not run dry


def _fleet(url: str, team: str, threads: int) -> tuple[list[Database], list[tuple[Database, Any]]]:
    pools = [database(url, min_size=threads, max_size=threads + 1, name=f"bench-flow-{i}").open() for i in range(POOLS)]
    crew = [(pools[i % POOLS], agents.register(pools[0], {"codename": f"flow-{team}-{i}", "team": team})[0])
            for i in range(POOLS * threads)]
    return pools, crew


def _claim_for(crew: list[tuple[Database, Any]], seconds: float) -> int:
    """Every agent claims and completes until ``seconds`` have passed. -> claims made"""
    stop = time.monotonic() + seconds
    counts = [0] * len(crew)

    def work(i: int, db: Database, agent: Any) -> None:
        while time.monotonic() < stop:
            task = lifecycle.claim(db, agent.id)
            if task is None:
                time.sleep(0.001)
                continue
            counts[i] += 1
            lifecycle.result(db, task.id, agent.id, task.attempt)

    workers = [threading.Thread(target=work, args=(i, db, a)) for i, (db, a) in enumerate(crew)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts)


def _supply(db: Database, team: str, n: int, keys: int, category: str = "bench") -> None:
    """n open tasks of the team, set-based; with keys, spread over that many concurrency keys whose
    limits (KEY_LIMIT each) add up to more than the threads."""
    db.one("bench_flow_supply", team=team, category=category, n=n)
    if keys:
        db.execute("bench_flow_keys", team=team, keys=keys, limit=KEY_LIMIT)


def run(server_url: str, threads: int, seconds: float, rounds: int, keys: int, rate: int,
        console: Console | None = None) -> dict[str, Any]:
    ui = Ui(console)
    with scratch_database(server_url, False, ui) as (_name, url), database(url, min_size=1, max_size=2) as db:
        per_run = int(SUPPLY_PER_S * seconds)
        gates.rate(db, "team", GATED_TEAM, UNBINDING_RATE, burst=UNBINDING_RATE // 60)
        runs: dict[str, list[float]] = {"baseline": [], "gated": []}
        plain_pools, plain = _fleet(url, PLAIN_TEAM, threads)
        gated_pools, gated = _fleet(url, GATED_TEAM, threads)
        try:
            with ui.progress("throughput runs", 2 * rounds) as advance:
                for _ in range(rounds):
                    for side, team, crew, k in (("baseline", PLAIN_TEAM, plain, 0), ("gated", GATED_TEAM, gated, keys)):
                        _supply(db, team, per_run, k)
                        runs[side].append(_claim_for(crew, seconds) / seconds)
                        advance(1)
        finally:
            for p in plain_pools + gated_pools:
                p.close()

        # rate accuracy: the pools claim a rate-limited category as fast as they can
        _supply(db, RATE_TEAM, int(rate / 60 * seconds * 1.5) + 100, 0, RATE_CATEGORY)
        gates.rate(db, "category", RATE_CATEGORY, rate, burst=1)
        rate_pools, crew = _fleet(url, RATE_TEAM, threads)
        try:
            ui.note(f"rate accuracy: {rate} claims per minute for {seconds:g} s")
            _claim_for(crew, seconds)
        finally:
            for p in rate_pools:
                p.close()
        row = db.one("bench_flow_claims", category=RATE_CATEGORY)
    achieved = row["steady_claims"] / row["steady_seconds"] * 60 if row["steady_seconds"] else 0.0
    best = {side: max(values) for side, values in runs.items()}
    ratio = round(best["gated"] / best["baseline"], 3) if best["baseline"] else 0.0
    error = round(abs(achieved / rate - 1), 4)
    return {
        "pools": POOLS, "threads_per_pool": threads, "seconds": seconds, "rounds": rounds, "keys": keys,
        "baseline_claims_per_s": round(best["baseline"], 1),
        "gated_claims_per_s": round(best["gated"], 1),
        "ratio": ratio,
        "runs": {side: [round(v, 1) for v in values] for side, values in runs.items()},
        "rate_limit_per_minute": rate,
        "rate_achieved_per_minute": round(achieved, 1),
        "rate_claims": row["claims"],
        "rate_error": error,
        # the hard bound with a burst of 1: one claim per slot at the start, then the rate exactly
        "rate_over_limit": bool(row["claims"] > min(16, max(1, rate // 600)) + row["span"] * rate / 60 + 1e-9),
        "statistic": "best run per side for claims/s; the rate after the first second, from task_events",
        "target": {"ratio": f">= {TARGET_RATIO}", "ratio_met": ratio >= TARGET_RATIO,
                   "rate_error": f"<= {TARGET_RATE_ERROR}", "rate_error_met": error <= TARGET_RATE_ERROR},
    }


def flow_cmd(
    threads: int = typer.Option(3, "--threads", help="Agents (threads) per pool; three pools (1-16)."),
    seconds: float = typer.Option(5.0, "--seconds", help="Length of each timed run (1-120)."),
    rounds: int = typer.Option(2, "--rounds", help="Baseline/gated pairs of throughput runs (1-10)."),
    keys: int = typer.Option(4, "--keys", help="Concurrency keys the gated tasks are spread over (1-100)."),
    rate: int = typer.Option(1_200, "--rate", help="The rate limit whose accuracy is measured, claims per minute."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Claims/s with a rate limit and concurrency keys in force next to the same claims without;
    a rate limit's accuracy across three pools.

    stdout: figures; stderr: progress. Runs on a scratch database of the board's server.
    """
    if not (1 <= threads <= 16 and 1 <= seconds <= 120 and 1 <= rounds <= 10 and 1 <= keys <= 100
            and 60 <= rate <= 600_000):
        raise errors.InvalidInput("--threads 1-16, --seconds 1-120, --rounds 1-10, --keys 1-100, --rate 60-600000")
    with embedded.database_url(toolkit.settings()) as url:
        result = run(url, threads, seconds, rounds, keys, rate, Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
    else:
        render.console.print_json(render.dumps(result))
