"""Retention (docs/operations/retention.md): finished tasks older than a setting are deleted with
their history, a small batch per transaction, by the beat.

Deleted, not archived: the point is tables that stay flat, and the history that matters for trust
already lives on in the agents' counters and trust; an archive would be a second table growing
for ever. What is kept of the deleted history is its proof: each batch writes, in its own
transaction, a checkpoint of the hash chains' heads (``phoenix.audit_checkpoints``), and ``audit
verify`` checks the pruned chains from the latest one (board/audit.py). The rules of what a batch
may take live in ``sql/functions/33_retention.sql``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from phoenix_board.board import constants, errors, models
from phoenix_board.board.db import Database


def cutoff(days: float, now: datetime | None = None) -> datetime:
    """What finished before this is old enough to prune."""
    if days < constants.TASK_RETENTION_MIN_DAYS:
        raise errors.InvalidInput(f"retention must be at least {constants.TASK_RETENTION_MIN_DAYS:g} days, not {days:g}")
    return (now or datetime.now(UTC)) - timedelta(days=days)


@dataclasses.dataclass
class PruneResult:
    tasks: int = 0  # tasks deleted (whole trees)
    rows: int = 0  # rows deleted in all tables, the tasks included
    batches: int = 0  # transactions that deleted something
    checkpoints: list[int] = dataclasses.field(default_factory=list)
    skipped: int = 0  # batches another pruner held the lock for
    longest_batch_ms: float = 0.0  # the longest transaction: every lock a batch takes lasts this long
    batch_ms: list[float] = dataclasses.field(default_factory=list, repr=False)  # each transaction's time
    deleted: dict[str, int] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "batch_ms"}


def prune_batch(db: Database, before: datetime, batch: int = constants.PRUNE_BATCH,
                after: tuple[datetime, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """One transaction: up to ``batch`` finished trees that ended before ``before``, after the
    cursor ``after`` (completed_at, id). -> the function's report (tasks, rows, deleted, checkpoint,
    last_at and last_id: the next cursor; skipped when another pruner holds the lock)."""
    batch = models.whole_arg(batch, "batch", 1, 10_000)
    row = db.one("tasks_prune", cutoff=before, batch=batch, after_at=after[0] if after else None,
                 after_id=after[1] if after else None, now=now)
    return row["result"]


def prune(db: Database, before: datetime, batch: int = constants.PRUNE_BATCH, now: datetime | None = None,
          max_batches: int | None = None, progress: Callable[[dict[str, Any]], None] | None = None) -> PruneResult:
    """Prunes batch after batch, in passes over every finished root before ``before``, until a
    pass deletes no task (or ``max_batches`` ran). A root kept back in one pass because an
    interaction still named it may go in the next, once its rater's chain was pruned past that
    interaction. Each batch is its own transaction, so no lock outlives one batch."""
    result = PruneResult()
    n = 0
    while max_batches is None or n < max_batches:
        pruned = result.tasks
        n = _pass(db, before, batch, now, max_batches, progress, result, n)
        if result.tasks == pruned or result.skipped:
            break
    return result


def _pass(db: Database, before: datetime, batch: int, now: datetime | None, max_batches: int | None,
          progress: Callable[[dict[str, Any]], None] | None, result: PruneResult, n: int) -> int:
    after: tuple[datetime, Any] | None = None
    while max_batches is None or n < max_batches:
        t0 = time.perf_counter()
        report = prune_batch(db, before, batch, after, now)
        took = (time.perf_counter() - t0) * 1000
        result.batch_ms.append(took)
        result.longest_batch_ms = max(result.longest_batch_ms, took)
        n += 1
        if report.get("skipped"):
            result.skipped += 1
            break  # another beat is pruning; it goes on where this would have
        if report.get("checkpoint") is not None:
            result.batches += 1
            result.checkpoints.append(int(report["checkpoint"]))
        result.tasks += int(report["tasks"])
        result.rows += int(report["rows"])
        for table, count in (report.get("deleted") or {}).items():
            result.deleted[table] = result.deleted.get(table, 0) + int(count)
        if progress is not None:
            progress(report)
        if report.get("last_id") is None:
            break  # no root left after the cursor
        after = (datetime.fromisoformat(report["last_at"]), report["last_id"])
    return n


def table_rows(db: Database) -> dict[str, int]:
    """Rows in the tables retention keeps flat (exact counts: soak runs and tests)."""
    return {k: int(v) for k, v in db.one("retention_table_rows").items()}
