"""Walking the hash chains of ``task_events`` and ``agent_interactions`` (docs/concepts/audit.md).

Each chain belongs to one owner (a task, or the agent an interaction rated) and is checked batch
by batch in owner-id order by ``sql/queries/audit.sql``, so a walk over millions of rows holds no
long snapshot and can show its progress.

Retention (board/retention.py) deletes whole task chains and the front of agent chains; each prune
batch writes a checkpoint in its transaction. The walk checks the checkpoints' own chain, that each
agent chain's base is the one its checkpoint recorded, and each pruned agent chain from that base:
it verifies from the latest checkpoint.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from phoenix_board.board.db import Database

CHAINS = {"task_events": "audit_task_events", "agent_interactions": "audit_agent_interactions"}
FAULTS = {
    "gap": "a row is missing before this one (deleted), or the chain does not start at 1",
    "prev_hash": "does not point at the row before it (that row or this link was rewritten)",
    "content": "its fields no longer give its hash (the row was edited)",
    "missing": "the task has no history at all (its rows were deleted)",
    "checkpoint": "the checkpoint's fields no longer give its hash, or it does not link to the one before",
    "base": "the chain's recorded start is not what its checkpoint recorded (the base was rewritten)",
}
CHECKPOINTS = "audit_checkpoints"
_START = uuid.UUID(int=0)


@dataclasses.dataclass(frozen=True)
class Link:
    chain: str  # table
    owner: uuid.UUID | int  # task id or agent id; a checkpoint's id
    id: int | None
    seq: int | None
    at: datetime | None
    fault: str

    def describe(self) -> str:
        where = f"{self.chain} of {self.owner}" + (f", seq {self.seq} (id {self.id})" if self.seq is not None else "")
        return f"{where}: {FAULTS[self.fault]}"


@dataclasses.dataclass
class Report:
    rows: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(CHAINS, 0))
    chains: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(CHAINS, 0))
    broken: list[Link] = dataclasses.field(default_factory=list)
    checkpoints: int = 0
    latest_checkpoint: dict[str, Any] | None = None  # where the pruned chains are verified from

    @property
    def ok(self) -> bool:
        return not self.broken

    @property
    def first(self) -> Link | None:
        """The earliest broken link in time (a missing history has no time and comes last)."""
        timed = [b for b in self.broken if b.at is not None]
        if timed:
            return min(timed, key=lambda b: (b.at, b.chain, b.seq or 0))
        return self.broken[0] if self.broken else None

    def as_json(self) -> dict[str, Any]:
        first = self.first
        return {
            "ok": self.ok,
            "rows": self.rows,
            "chains": self.chains,
            "broken": len(self.broken),
            "first_broken": None if first is None else {**dataclasses.asdict(first), "problem": FAULTS[first.fault]},
            "checkpoints": self.checkpoints,
            "latest_checkpoint": self.latest_checkpoint,
        }


def totals(db: Database) -> dict[str, int]:
    """Owners a full walk visits: tasks for task_events, agents for agent_interactions."""
    row = db.one("audit_totals")
    return {"task_events": row["tasks"], "agent_interactions": row["agents"]}


def verify(db: Database, *, batch: int = 2000, progress: Callable[[str, int], None] | None = None) -> Report:
    """Checks every link of both chains; ``progress(chain, owners_done)`` after each batch."""
    report = Report()
    verify_checkpoints(db, report)
    for chain, query in CHAINS.items():
        after = _START
        while True:
            row = db.one(query, after=after, batch=batch)
            if row["last"] is None:
                break
            report.rows[chain] += row["rows_checked"]
            report.chains[chain] += row["owners_checked"]
            report.broken.extend(
                Link(chain, uuid.UUID(b["owner"]), b["id"], b["seq"],
                     datetime.fromisoformat(b["at"]) if b["at"] else None, b["fault"])
                for b in row["broken"]
            )
            if progress is not None:
                progress(chain, row["owners_checked"])
            after = row["last"]
    return report


def verify_checkpoints(db: Database, report: Report) -> None:
    """The checkpoints' chain and the agent chains' bases (what retention kept of what it deleted)."""
    for row in db.all("audit_checkpoints_walk"):
        report.checkpoints += 1
        if not (row["linked"] and row["intact"]):
            report.broken.append(Link(CHECKPOINTS, row["id"], row["id"], row["id"], row["at"], "checkpoint"))
    for row in db.all("audit_chain_bases_check"):
        if not row["recorded"]:
            report.broken.append(Link("agent_interactions", row["agent_to"], None, row["seq"], None, "base"))
    latest = db.one("audit_checkpoint_latest")
    if latest is not None:
        report.latest_checkpoint = {"id": latest["id"], "at": latest["at"].isoformat(),
                                    "cutoff": latest["cutoff"].isoformat(), "hash": latest["hash"]}
