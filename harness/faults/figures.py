"""What a fault run counts, once the board has settled.

* **lost**: a submission that never reached the board, or a task that is neither complete nor
  failed for good when the run ends. Target 0.
* **duplicated completions**: a task with more than one ``completed`` event. Target 0.
* **duplicated effects**: an attempt whose handler performed its side effect more than once
  (the probe's ledger). One attempt is one claim by one process; running it twice would mean
  two processes worked the same claim. Target 0.
* **handler reruns**: tasks whose handler ran in more than one attempt. Expected after a kill in
  the middle of the work (execution is at least once, completion exactly once); reported only.
* **reclaim**: for each claim a killed process held, the time from the SIGKILL until the claim
  was returned to the board (``released_s``: by the replacement process, or by the lease sweeper),
  until its task was claimable again (``reclaimable_s``: the failed attempt's ``retry_at``, after
  the retry backoff) and until another attempt claimed it (``reclaimed_s``). Target: claimable
  again within twice the lease. Split by the attempt that was killed, since the retry backoff
  grows with each failed attempt.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from phoenix_board.board.db import Database
from phoenix_board.harness.faults.rig import Ledger, wait_until


@dataclass
class Kill:
    point: str
    pid: int
    agent: str
    at: datetime
    held: list[tuple[str, int]] = field(default_factory=list)


def settle(db: Database, keys: list[str], timeout: float) -> bool:
    """Waits until every submission is on the board and no task is on its way. -> settled in time"""
    wanted = set(keys)

    def settled() -> bool:
        on_board = {r["key"] for r in db.all("faults_keys")}
        return wanted <= on_board and db.one("faults_unsettled")["n"] == 0

    try:
        wait_until(settled, timeout, "the board to settle", every=0.25)
    except Exception:  # noqa: BLE001 - a run that does not settle is reported, as lost tasks
        return False
    return True


def count(db: Database, ledger: Ledger, keys: list[str]) -> dict[str, Any]:
    by_status = {r["status"]: r["n"] for r in db.all("faults_by_status")}
    on_board = {r["key"] for r in db.all("faults_keys")}
    completions = db.all("faults_completions")
    effects = Counter((e["task"], e["attempt"]) for e in ledger.steps("effect"))
    attempts_run: dict[str, set[int]] = {}
    for task, attempt in effects:
        attempts_run.setdefault(task, set()).add(attempt)
    unsettled = sum(n for status, n in by_status.items() if status not in ("complete", "failed"))
    return {
        "submitted": len(set(keys)),
        "on_board": sum(by_status.values()),
        "completed": by_status.get("complete", 0),
        "failed": by_status.get("failed", 0),
        "lost": len(set(keys) - on_board) + unsettled,
        "duplicated_completions": sum(1 for r in completions if r["n"] > 1),
        "duplicated_effects": sum(1 for n in effects.values() if n > 1),
        "handler_reruns": sum(1 for runs in attempts_run.values() if len(runs) > 1),
    }


def reclaims(db: Database, kills: list[Kill], lease: float) -> dict[str, Any]:
    released: list[float] = []
    claimable: list[float] = []
    by_attempt: dict[int, list[float]] = {}
    claimed: list[float] = []
    how: Counter[str] = Counter()
    never = 0
    for kill in kills:
        for task, attempt in kill.held:
            end = db.one("faults_attempt_end", task=task, attempt=attempt)
            nxt = db.one("faults_next_claim", task=task, attempt=attempt)
            if end is None:
                never += 1
                continue
            how[end["kind"]] += 1
            released.append(max(0.0, (end["at"] - kill.at).total_seconds()))
            claimable.append(max(0.0, (end["claimable_at"] - kill.at).total_seconds()))
            by_attempt.setdefault(attempt, []).append(claimable[-1])
            if nxt is not None:
                claimed.append((nxt["at"] - kill.at).total_seconds())
            elif end["kind"] != "completed":
                never += 1
    return {
        "kills": len(kills),
        "kills_holding_a_claim": sum(1 for k in kills if k.held),
        "kills_by_point": dict(Counter(k.point for k in kills)),
        "claims_returned_by": dict(how),
        "never_reclaimed": never,
        "lease_s": lease,
        "released_s": _spread(released),
        "reclaimable_s": _spread(claimable),
        "reclaimed_s": _spread(claimed),
        # the retry backoff doubles with each failed attempt (5, 10, 20 s ...): a task killed again
        # and again waits longer each time, which is what keeps a task that kills its agent from
        # crash-looping through the pool
        "reclaimable_s_by_attempt": {str(a): _spread(v) for a, v in sorted(by_attempt.items())},
        "reclaim_within_2x_lease": bool(claimable) and max(claimable) <= 2 * lease and never == 0,
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "median": None, "max": None}
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def clean(figures: dict[str, Any]) -> bool:
    return figures["lost"] == 0 and figures["duplicated_completions"] == 0 and figures["duplicated_effects"] == 0
