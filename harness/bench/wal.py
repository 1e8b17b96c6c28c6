"""Where each byte of WAL and each index insert of a task goes: the cost figures of ``bench board``.

**How.** Each step of a task's life (submit, claim, start, a lease renewal, result for the board;
submit, claim, complete for the bare SKIP LOCKED baseline) runs ``TASKS`` times from one thread,
between two reads of the WAL insert position. ``pg_walinspect`` then reads the records written
between them, keeps those of the scratch database (a commit by the transactions that wrote there),
and sums them by relation: bytes, records, full-page images, index inserts, heap inserts, updates
and HOT updates.
Counting records, not statistics counters, makes the figures exact per step and immune to the
other databases of a shared server and to the statistics collector's flush delay.

**Without pg_walinspect** (not a superuser, or a server without the contrib modules) the figures
fall back to the distance between the two positions: the whole server's WAL, so other sessions'
work counts too, and no index inserts or breakdown; ``method`` says which was used.

While it measures, a temporary replication slot keeps the server from recycling the WAL it has yet
to read (on a busy server a checkpoint may otherwise remove a segment within a step); without the
privilege for one, a step whose WAL is gone falls back to the distance as above.

Full-page images depend on when the last checkpoint was, so ``fpi_bytes`` is reported apart, and
``bytes_without_fpi`` is what to compare between two runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from phoenix_board.board import agents, errors, lifecycle, outbox, teams
from phoenix_board.board.db import Database

TASKS = 100  # per measured step: enough that a B-tree root split or a sequence's WAL is a fraction
# A team of its own, so that the measured claims take the tasks the measured submissions made: the
# same tasks go through every step, whatever the seeded board's claim order holds.
TEAM = "bench_wal"
FIGURES = ("bytes", "bytes_without_fpi", "records", "fpi_bytes", "index_inserts", "heap_inserts", "heap_updates", "hot_updates")


@dataclasses.dataclass
class Step:
    """What one step wrote, summed over its TASKS calls, by relation."""

    relations: dict[str, dict[str, int]]
    total_bytes: int  # the fallback's only figure

    def totals(self) -> dict[str, int]:
        out = {k: sum(r[k] for r in self.relations.values()) for k in FIGURES}
        if not self.relations:
            out["bytes"] = out["bytes_without_fpi"] = self.total_bytes
        return out


def inspectable(db: Database) -> bool:
    """Whether pg_walinspect can be used here (it is created in the scratch database)."""
    try:
        db.execute("bench_wal_inspect")
    except errors.BoardError:
        return False
    return bool(db.one("bench_wal_inspect_allowed")["allowed"])


@contextlib.contextmanager
def held(db: Database) -> Iterator[None]:
    """WAL from here on stays on the server until the block ends (a temporary replication slot on
    a connection kept for it), where the role may make one; otherwise nothing is held."""
    slot = f"phoenix_bench_{uuid.uuid4().hex[:12]}"
    with db.connection() as conn:
        try:
            conn.execute(db.queries["bench_wal_hold"], {"slot": slot})
        except Exception:  # noqa: BLE001 - no privilege or no free slot: measured without the hold
            yield
            return
        try:
            yield
        finally:
            conn.execute(db.queries["bench_wal_release"], {"slot": slot})


def measure(db: Database, inspect: bool, work: Callable[[], None]) -> Step:
    start = db.one("bench_wal_lsn")["lsn"]
    work()
    end = db.one("bench_wal_lsn")["lsn"]
    distance = db.one("bench_wal_bytes", start=start, end=end)["bytes"]
    if not inspect:
        return Step({}, distance)
    try:
        rows = db.all("bench_wal_breakdown", start=start, end=end)
    except errors.Unavailable:  # the segment was recycled before it was read: the distance only
        return Step({}, distance)
    relations = {r["relation"]: {k: int(r[k]) for k in FIGURES if k != "bytes_without_fpi"} for r in rows}
    for r in relations.values():
        r["bytes_without_fpi"] = r["bytes"] - r["fpi_bytes"]
    return Step(relations, sum(r["bytes"] for r in relations.values()))


def _per_task(values: dict[str, int], tasks: int) -> dict[str, float]:
    return {k: round(v / tasks, 2) for k, v in values.items()}


def _report(steps: dict[str, Step], tasks: int) -> dict[str, Any]:
    return {
        name: {
            **_per_task(step.totals(), tasks),
            "relations": {rel: _per_task(fig, tasks) for rel, fig in step.relations.items()},
        }
        for name, step in steps.items()
    }


def board_steps(db: Database, inspect: bool, tasks: int = TASKS) -> dict[str, Step]:
    """Submit, claim, start and result of the same ``tasks`` tasks, each step measured on its own
    (one agent per task: an agent holds one claim at a time)."""
    team = TEAM
    teams.create(db, team, "phoenix-board bench: the WAL costs' tasks")
    workers: list[UUID] = [
        agents.register(db, {"codename": f"bench-wal-{i}", "team": team, "role": "bench"})[0].id for i in range(tasks)
    ]
    claimed: list[Any] = []

    def submit() -> None:
        for i in range(tasks):
            lifecycle.submit(db, {"title": f"bench wal {i}", "team": team, "created_by": workers[i],
                                  "payload": {"n": i}})

    def claim() -> None:
        for agent in workers:
            task = lifecycle.claim(db, agent)
            if task is None:
                raise errors.Conflict(f"the WAL costs found no open task on team {team}")
            claimed.append(task)

    def start() -> None:
        for task, agent in zip(claimed, workers, strict=True):
            lifecycle.start(db, task.id, agent, task.attempt)

    def renew() -> None:  # what a working agent's renewer writes every third of a lease
        for task, agent in zip(claimed, workers, strict=True):
            lifecycle.renew(db, task.id, agent, task.attempt)

    def result() -> None:
        for task, agent in zip(claimed, workers, strict=True):
            lifecycle.result(db, task.id, agent, task.attempt, quality=1.0)

    return {name: measure(db, inspect, work) for name, work in
            (("submit", submit), ("claim", claim), ("start", start), ("renew", renew), ("result", result))}


def relay_pass(db: Database) -> int:
    """The relay's writes for every outbox row not yet published (workers/stream.py), by its own
    statements: the entry ids' assignment, then the mark of each batch it would have sent, without
    a Redis. -> rows marked"""
    n = 0
    with db.connection() as conn:  # autocommit: a transaction per statement, as the relay's
        while outbox.assign(conn, limit=10_000):
            pass
        while events := outbox.pending(conn):
            n += outbox.mark_published(conn, events)
    return n


def bare_steps(db: Database, first_id: int, inspect: bool, tasks: int = TASKS) -> dict[str, Step]:
    """The baseline's submit, claim and complete, each for ``tasks`` rows."""
    ids: list[int] = []

    def submit() -> None:
        for i in range(tasks):
            db.execute("bench_bare_submit", id=first_id + i)

    def claim() -> None:
        for _ in range(tasks):
            row = db.one("bench_bare_claim")
            if row is None:
                raise errors.Conflict("the WAL costs ran out of open baseline rows")
            ids.append(row["id"])

    def complete() -> None:
        for i in ids:
            db.execute("bench_bare_complete", id=i)

    return {name: measure(db, inspect, work) for name, work in
            (("submit", submit), ("claim", claim), ("complete", complete))}


def costs(db: Database, bare_first_id: int, tasks: int = TASKS) -> dict[str, Any]:
    """The per-task figures of both sides and their breakdown, for ``bench board``'s JSON.

    ``wal_bytes_per_task`` and ``index_inserts_per_task`` are for the loop ``claim_ratio`` times
    (claim and result; claim and complete for the baseline); ``lifecycle_*`` add submit (and start)."""
    inspect = inspectable(db)
    relay_pass(db)  # the claim runs' rows, so that the measured pass below has only the steps' own
    with held(db):
        board = board_steps(db, inspect, tasks)
        # the relay's share of those tasks' events, apart: the loop and the lifecycle run no relay
        board["relay"] = measure(db, inspect, lambda: relay_pass(db))
        bare = bare_steps(db, bare_first_id, inspect, tasks)

    def total(steps: dict[str, Step], names: tuple[str, ...], key: str) -> float | None:
        if key not in ("bytes", "bytes_without_fpi") and not inspect:
            return None
        return round(sum(steps[n].totals()[key] for n in names) / tasks, 1)

    loop, bare_loop = ("claim", "result"), ("claim", "complete")
    life, bare_life = ("submit", "claim", "start", "result"), ("submit", "claim", "complete")
    out: dict[str, Any] = {}
    for prefix, steps, a, b in (("", board, loop, life), ("bare_", bare, bare_loop, bare_life)):
        out[f"{prefix}wal_bytes_per_task"] = total(steps, a, "bytes")
        out[f"{prefix}wal_bytes_without_fpi_per_task"] = total(steps, a, "bytes_without_fpi")
        out[f"{prefix}wal_records_per_task"] = total(steps, a, "records")
        out[f"{prefix}index_inserts_per_task"] = total(steps, a, "index_inserts")
        out[f"{prefix}lifecycle_wal_bytes_per_task"] = total(steps, b, "bytes")
        out[f"{prefix}lifecycle_index_inserts_per_task"] = total(steps, b, "index_inserts")
    out["renew_wal_bytes_without_fpi_per_task"] = total(board, ("renew",), "bytes_without_fpi")
    out["renew_index_inserts_per_task"] = total(board, ("renew",), "index_inserts")
    out["renew_hot_updates_per_task"] = total(board, ("renew",), "hot_updates")
    out["relay_wal_bytes_without_fpi_per_task"] = total(board, ("relay",), "bytes_without_fpi")
    out["relay_index_inserts_per_task"] = total(board, ("relay",), "index_inserts")
    out["wal_costs"] = {
        "method": "pg_walinspect" if inspect else "lsn distance (whole server; no breakdown)",
        "tasks_per_step": tasks,
        "board": _report(board, tasks),
        "bare": _report(bare, tasks),
    }
    return out
