"""``phoenix-board bench prune``: retention's throughput and the longest lock a batch holds.

**What is measured**, on a scratch database (``harness/scratch.py``): two equal sets of
``--tasks`` finished tasks, each task with four events (a hash chain), one interaction rating an
agent and one comment, seeded in bulk (``harness/sql/prune.sql``). The **baseline** deletes one set
with plain DELETE statements in a single transaction, as someone cleaning up by hand would: it is
the fastest way to remove the rows, and its locks last as long as the whole deletion. The
**prune** removes the other set the way the beat does (``retention.prune``: batches of
``--batch`` trees, each its own transaction with its checkpoint, locks taken with SKIP LOCKED).

``rows_per_s`` counts every deleted row (tasks, events, interactions, comments) over the wall time
of each; ``ratio`` = prune / baseline. ``longest_lock_ms`` is the longest batch transaction, timed
from the client (a round trip included): no lock a batch takes is held longer (target <= 100 ms);
``median_lock_ms`` the median batch. The baseline's lock is its whole transaction. ``audit_ok`` is `audit verify` after the prune. Nothing
here is a test assertion.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.console import Console

from phoenix_board.board import agents, audit, constants, embedded, errors, retention
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.bench.board import TEAM
from phoenix_board.harness.queries import database, queries
from phoenix_board.harness.scratch import Ui, scratch_database

TARGET_LOCK_MS = 100.0


def run(server_url: str, tasks: int, batch: int, console: Console | None = None) -> dict[str, Any]:
    ui = Ui(console)
    now = datetime.now(UTC)
    old = now - timedelta(days=60)
    with scratch_database(server_url, False, ui) as (_name, url):
        with database(url, min_size=1, max_size=2, name="phoenix-bench") as db:
            pruned_agent, _ = agents.register(db, {"codename": "bench-pruned", "team": TEAM})
            baseline_agent, _ = agents.register(db, {"codename": "bench-baseline", "team": TEAM})
            ui.note(f"seeding 2 x {tasks} finished tasks with their history")
            # the baseline's set finished after the prune's cutoff, so the prune leaves it alone
            db.one("bench_prune_seed", n=tasks, label="baseline ", team=TEAM, agent=baseline_agent.id,
                   at=now - timedelta(days=1))
            db.one("bench_prune_seed", n=tasks, label="pruned ", team=TEAM, agent=pruned_agent.id, at=old)
            db.execute("bench_prune_analyze")

            ui.note("baseline: one plain DELETE transaction")
            t0 = time.perf_counter()
            with db.transaction() as conn:
                conn.execute(queries()["bench_prune_guard_off"])
                base_rows = conn.execute(queries()["bench_prune_baseline"], {"label": "baseline "}).fetchone()["rows"]
            base_s = time.perf_counter() - t0

            ui.note(f"prune: batches of {batch}")
            t0 = time.perf_counter()
            with ui.progress("prune", tasks) as advance:
                result = retention.prune(db, retention.cutoff(30, now), batch, now=now,
                                         progress=lambda r: advance(int(r["tasks"])))
            prune_s = time.perf_counter() - t0
            verified = audit.verify(db)
    prune_rate = result.rows / prune_s if prune_s else 0.0
    base_rate = base_rows / base_s if base_s else 0.0
    return {
        "tasks": tasks,
        "batch": batch,
        "prune": {"rows": result.rows, "tasks": result.tasks, "batches": result.batches, "seconds": round(prune_s, 3),
                  "rows_per_s": round(prune_rate, 1), "longest_lock_ms": round(result.longest_batch_ms, 2),
                  "median_lock_ms": round(statistics.median(result.batch_ms), 2) if result.batch_ms else 0.0,
                  "deleted": result.deleted},
        "baseline": {"rows": base_rows, "seconds": round(base_s, 3), "rows_per_s": round(base_rate, 1),
                     "longest_lock_ms": round(base_s * 1000, 2)},
        "ratio": round(prune_rate / base_rate, 3) if base_rate else 0.0,
        "audit_ok": verified.ok,
        "statistic": "rows deleted per second of wall time; the longest lock is the longest batch transaction",
        "target": {"longest_lock_ms": f"<= {TARGET_LOCK_MS:g}", "met": result.longest_batch_ms <= TARGET_LOCK_MS},
    }


def prune_cmd(
    tasks: int = typer.Option(5000, "--tasks", help="Finished tasks in each set (100-200,000)."),
    batch: int = typer.Option(constants.PRUNE_BATCH, "--batch", help="Trees per prune transaction (1-10,000)."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Retention's pruning against a plain DELETE of the same rows: rows per second and the longest
    lock a batch holds.

    stdout: figures; stderr: progress. Runs on a scratch database of the board's server.
    """
    if not 100 <= tasks <= 200_000 or not 1 <= batch <= 10_000:
        raise errors.InvalidInput("--tasks must be 100-200000 and --batch 1-10000")
    with embedded.database_url(toolkit.settings()) as url:
        result = run(url, tasks, batch, Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
    else:
        render.console.print_json(render.dumps(result))
