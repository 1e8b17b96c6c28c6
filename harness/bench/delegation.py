"""``phoenix-board bench delegation``: what a fan-out costs over the same tasks submitted plainly.

**What is measured**, on a scratch database (``harness/scratch.py``), through the board's API
with ``--threads`` threads each acting for its own agent:

* *delegation*: one agent claims a parent and delegates ``--children`` children in one call
  (``spawn_ms``); the threads claim and complete the children until the parent is back on the
  board (``join_ms``, from the delegation's commit to the last child's completion, which reopens
  the parent in the same transaction); ``children_per_s`` is children / (spawn + join).
* *the baseline*: the same number of tasks submitted one call each (``lifecycle.submit``, spread
  over the same threads), then claimed and completed by the same threads: what the work costs as
  independent tasks (``plain_submit_ms``, ``plain_work_ms``).
* ``ratio``: plain time / delegation time, each end to end (creating the tasks and working them
  all). Above 1, delegating was cheaper; the target is >= 0.8 (delegation costs little more).

The two sides alternate ``--rounds`` times, each in a fresh team-free state of the same database,
and each side reports its best run, as ``bench board`` does. Nothing here is a test assertion.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import typer
from rich.console import Console

from phoenix_board.board import agents, constants, delegation, embedded, errors, lifecycle
from phoenix_board.board.db import Database
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.bench.board import TEAM
from phoenix_board.harness.queries import database
from phoenix_board.harness.scratch import Ui, scratch_database

TARGET_RATIO = 0.8
LEASE = 600.0  # s: no lease may lapse inside a run


def _work(db: Database, workers: list[Any], n: int, done: threading.Event | None = None) -> None:
    """The threads claim and complete until n tasks are done between them."""
    counter = [0]
    lock = threading.Lock()

    def loop(agent_id: Any) -> None:
        while True:
            with lock:
                if counter[0] >= n:
                    return
            t = lifecycle.claim_start(db, agent_id, LEASE)
            if t is None:
                with lock:
                    if counter[0] >= n:
                        return
                continue
            lifecycle.result(db, t.id, agent_id, t.attempt, {"i": t.child_key}, 1.0)
            with lock:
                counter[0] += 1

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def delegation_run(db: Database, boss: Any, workers: list[Any], n: int, tag: str) -> dict[str, float]:
    lifecycle.submit(db, {"title": f"bench parent {tag}", "team": TEAM, "category": "bench"})
    parent = lifecycle.claim_start(db, boss, LEASE)
    if parent is None:
        raise errors.Conflict("the bench parent could not be claimed")
    t0 = time.perf_counter()
    delegation.delegate(db, parent.id, boss, parent.attempt, [{"title": f"child {i}"} for i in range(n)])
    t1 = time.perf_counter()
    _work(db, workers, n)
    t2 = time.perf_counter()
    back = lifecycle.get(db, parent.id)
    if back.status != "open" or back.children_done != n:
        raise errors.Conflict(f"the bench parent is {back.status} with {back.children_done} of {n} children done")
    # finish the parent, so the next run starts from an empty board
    again = lifecycle.claim_start(db, boss, LEASE)
    lifecycle.result(db, again.id, boss, again.attempt, {})
    return {"spawn": t1 - t0, "join": t2 - t1}


def plain_run(db: Database, workers: list[Any], n: int, tag: str) -> dict[str, float]:
    t0 = time.perf_counter()
    chunks = [list(range(i, n, len(workers))) for i in range(len(workers))]

    def submit(chunk: list[int]) -> None:
        for i in chunk:
            lifecycle.submit(db, {"title": f"plain {tag} {i}", "team": TEAM, "category": "bench"})

    threads = [threading.Thread(target=submit, args=(c,)) for c in chunks]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    t1 = time.perf_counter()
    _work(db, workers, n)
    t2 = time.perf_counter()
    return {"submit": t1 - t0, "work": t2 - t1}


def run(server_url: str, children: int, threads: int, rounds: int, console: Console | None = None) -> dict[str, Any]:
    ui = Ui(console)
    deleg: list[dict[str, float]] = []
    plain: list[dict[str, float]] = []
    with scratch_database(server_url, False, ui) as (_name, url):
        with database(url, min_size=threads + 2, max_size=threads + 2, name="phoenix-bench") as db:
            boss = agents.register(db, {"codename": "bench-boss", "team": TEAM})[0].id
            workers = [agents.register(db, {"codename": f"bench-w{i}", "team": TEAM})[0].id
                       for i in range(threads)]
            # warm the pool's prepared statements on both paths before timing
            delegation_run(db, boss, workers, threads * 10, "warm")
            plain_run(db, workers, threads * 10, "warm")
            with ui.progress("delegation vs plain", 2 * rounds) as advance:
                for r in range(rounds):
                    deleg.append(delegation_run(db, boss, workers, children, str(r)))
                    advance(1)
                    plain.append(plain_run(db, workers, children, str(r)))
                    advance(1)
    best_d = min(deleg, key=lambda d: d["spawn"] + d["join"])
    best_p = min(plain, key=lambda p: p["submit"] + p["work"])
    d_total = best_d["spawn"] + best_d["join"]
    p_total = best_p["submit"] + best_p["work"]
    ratio = round(p_total / d_total, 3) if d_total else 0.0
    return {
        "children": children,
        "threads": threads,
        "rounds": rounds,
        "spawn_ms": round(best_d["spawn"] * 1000, 1),
        "join_ms": round(best_d["join"] * 1000, 1),
        "children_per_s": round(children / d_total, 1),
        "plain_submit_ms": round(best_p["submit"] * 1000, 1),
        "plain_work_ms": round(best_p["work"] * 1000, 1),
        "plain_per_s": round(children / p_total, 1),
        "ratio": ratio,
        "statistic": f"best of {rounds} alternating runs per side",
        "target": {"ratio": f">= {TARGET_RATIO}", "met": ratio >= TARGET_RATIO},
        "runs": {"delegation": [{k: round(v * 1000, 1) for k, v in d.items()} for d in deleg],
                 "plain": [{k: round(v * 1000, 1) for k, v in p.items()} for p in plain]},
    }


def delegation_cmd(
    children: int = typer.Option(1_000, "--children", help="Children of the one parent (1 to the per-call limit)."),
    threads: int = typer.Option(8, "--threads", help="Agents working the children (1-32)."),
    rounds: int = typer.Option(3, "--rounds", help="Alternating delegation/plain pairs (1-20)."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """A fan-out of --children joined to one parent, next to the same tasks submitted plainly.

    stdout: figures; stderr: progress. Runs on a scratch database of the board's server.
    """
    if not 1 <= children <= constants.DELEGATION_CHILDREN_MAX or not 1 <= threads <= 32 or not 1 <= rounds <= 20:
        raise errors.InvalidInput(f"--children must be 1-{constants.DELEGATION_CHILDREN_MAX}, --threads 1-32 "
                                  "and --rounds 1-20")
    with embedded.database_url(toolkit.settings()) as url:
        result = run(url, children, threads, rounds, Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
    else:
        render.console.print_json(render.dumps(result))
