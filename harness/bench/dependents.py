"""``phoenix-board bench dependents``: what adding a dependent costs as one task gathers many.

**What is measured**, on a scratch database (``harness/scratch.py``), through the board's API
(``lifecycle.submit``, one call per task, one thread): one task is submitted, then ``--dependents``
tasks that each depend on it, each followed by a plain task with no dependency (the baseline: the
same call on a board of the same size). Both are timed, and averaged over a window of
``--window`` at each end: the first 100 dependents and the last (9,901 to 10,000) by default.
``early_ms`` and ``late_ms`` are the mean time of one dependent's submission; ``plain_early_ms``
and ``plain_late_ms`` the baseline's. ``growth`` = (late / plain_late) / (early / plain_early): how
much more a dependent costs at the end than at the start, beyond what the board's growth costs any
submission. A cost that does not depend on the number of dependents gives about 1 (target <= 1.5);
when each submission rewrote the dependency's array of dependents, it grew with their number
(quadratic in total). Nothing here is a test assertion.
"""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.console import Console

from phoenix_board.board import embedded, errors, lifecycle
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.bench.board import TEAM
from phoenix_board.harness.queries import database
from phoenix_board.harness.scratch import Ui, scratch_database

TARGET_RATIO = 1.5


def run(server_url: str, dependents: int, window: int, console: Console | None = None) -> dict[str, Any]:
    ui = Ui(console)
    dep_times: list[float] = []
    plain_times: list[float] = []
    with scratch_database(server_url, False, ui) as (_name, url):
        with database(url, min_size=1, max_size=2, name="phoenix-bench") as db:
            plain = {"team": TEAM, "category": "bench"}
            for i in range(window):  # warm the pool's prepared statements before timing
                lifecycle.submit(db, {"title": f"warm {i}", **plain})
            dep, _ = lifecycle.submit(db, {"title": "the dependency", **plain})
            spec = {**plain, "depends_on": [str(dep.id)]}
            with ui.progress("dependents", dependents) as advance:
                for i in range(dependents):
                    t0 = time.perf_counter()
                    lifecycle.submit(db, {"title": f"dependent {i}", **spec})
                    t1 = time.perf_counter()
                    lifecycle.submit(db, {"title": f"plain {i}", **plain})
                    t2 = time.perf_counter()
                    dep_times.append(t1 - t0)
                    plain_times.append(t2 - t1)
                    if i % 100 == 99:
                        advance(100)

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    early, late = mean(dep_times[:window]), mean(dep_times[-window:])
    plain_early, plain_late = mean(plain_times[:window]), mean(plain_times[-window:])
    growth = round((late / plain_late) / (early / plain_early), 3) if early and plain_late else 0.0
    return {
        "dependents": dependents,
        "window": window,
        "early_ms": round(early * 1000, 3),
        "late_ms": round(late * 1000, 3),
        "plain_early_ms": round(plain_early * 1000, 3),
        "plain_late_ms": round(plain_late * 1000, 3),
        "dependents_total_s": round(sum(dep_times), 2),
        "growth": growth,
        "statistic": f"mean submit time of the first and the last {window} dependents, each next to a plain task",
        "target": {"growth": f"<= {TARGET_RATIO}", "met": growth <= TARGET_RATIO},
    }


def dependents_cmd(
    dependents: int = typer.Option(10_000, "--dependents", help="Tasks depending on the one task (200-100,000)."),
    window: int = typer.Option(100, "--window", help="Submissions averaged at each end (10 to half of --dependents)."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """--dependents tasks submitted one by one, all depending on one task: the cost of the first
    and the last ones.

    stdout: figures; stderr: progress. Runs on a scratch database of the board's server.
    """
    if not 200 <= dependents <= 100_000 or not 10 <= window <= dependents // 2:
        raise errors.InvalidInput("--dependents must be 200-100000 and --window 10 to half of --dependents")
    with embedded.database_url(toolkit.settings()) as url:
        result = run(url, dependents, window, Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
    else:
        render.console.print_json(render.dumps(result))
