"""Flow control: the gates every claim passes, per team or per category (docs/concepts/flow-control.md).

A gate is a row of ``phoenix.claim_gates``; ``task_claim`` reads it on every claim, so a change
holds for every pool on every host from the next claim on. What a gate can do:

- **pause**: no claim of the scope; work in flight finishes. ``drain`` pauses, then waits until
  nothing of the scope is claimed or in progress (review claims are not gated: a verdict finishes
  work already done).
- **rate limit**: claims per minute, a generic cell rate algorithm on one timestamp per row,
  charged under the row's lock at claim time (so the limit holds across pools; the lock
  serialises the claims of that scope).
- **budgets**: cost and tokens per UTC hour and per UTC day, counted from the ``usage`` a result
  reports; when one is spent, claims of the scope stop until the next window.

Concurrency keys are per task (``TaskSubmit.concurrency_key`` and ``concurrency_limit``), and a
task's not-before time is ``TaskSubmit.not_before``; both are enforced by the same claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from phoenix_board.board import errors, inputs, models
from phoenix_board.board.db import Database

KINDS = ("team", "category")
# the statuses drain waits out: a claim and the work on it
IN_FLIGHT = ("claimed", "in_progress")
RATE_MAX = 1_000_000
BURST_MAX = 100_000


def scope_arg(kind: Any, scope: Any) -> tuple[str, str]:
    """A checked (kind, scope): a team name or a category name."""
    if kind not in KINDS:
        raise errors.InvalidInput(f"scope kind must be team or category, not {inputs.shown(kind)}")
    return kind, (models.team_arg if kind == "team" else models.category_arg)(scope, kind)


def pause(db: Database, kind: str, scope: str, reason: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Stops claims of the scope from the next claim on, everywhere. -> the gate row"""
    kind, scope = scope_arg(kind, scope)
    if reason is not None:
        reason = models.parse(models.Reason, {"reason": reason}).reason
    return db.one("gate_pause", kind=kind, scope=scope, paused=True, reason=reason, now=now)


def resume(db: Database, kind: str, scope: str, now: datetime | None = None) -> dict[str, Any]:
    """Lets claims of the scope go again (its rate limit and budgets still hold). -> the gate row"""
    kind, scope = scope_arg(kind, scope)
    return db.one("gate_pause", kind=kind, scope=scope, paused=False, reason=None, now=now)


def in_flight(db: Database, kind: str, scope: str) -> int:
    """How many tasks of the scope are claimed or in progress."""
    kind, scope = scope_arg(kind, scope)
    return int(db.one("gate_in_flight", kind=kind, scope=scope)["in_flight"])


def drain(db: Database, kind: str, scope: str, timeout: float, reason: str | None = None,
          progress: Callable[[int], None] | None = None, poll: float = 0.5) -> int:
    """Pauses the scope, then waits until none of its tasks is in flight or ``timeout`` seconds
    have passed, calling ``progress(in_flight)`` after each look. -> the tasks still in flight
    (0: drained). The scope stays paused either way; ``resume`` lets it go again."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 <= timeout <= 86_400:
        raise errors.InvalidInput(f"timeout must be 0 to 86400 seconds, not {inputs.shown(timeout)}")
    pause(db, kind, scope, reason)
    deadline = time.monotonic() + timeout
    while True:
        left = in_flight(db, kind, scope)
        if progress is not None:
            progress(left)
        if left == 0 or time.monotonic() >= deadline:
            return left
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))


def rate(db: Database, kind: str, scope: str, per_minute: int | None, burst: int | None = None,
         now: datetime | None = None) -> dict[str, Any]:
    """Sets the scope's rate limit in claims per minute (None removes it); ``burst`` claims may go
    back to back after a quiet spell (default: one second's worth, at least 1). -> the gate row"""
    kind, scope = scope_arg(kind, scope)
    if per_minute is not None:
        per_minute = _whole(per_minute, "rate", 1, RATE_MAX)
    if burst is not None:
        if per_minute is None:
            raise errors.InvalidInput("burst needs a rate; give --per-minute too")
        burst = _whole(burst, "burst", 1, BURST_MAX)
    return db.one("gate_rate", kind=kind, scope=scope, per_minute=per_minute, burst=burst, now=now)


def budget(db: Database, kind: str, scope: str, *, hour_cost: Any = None, day_cost: Any = None,
           hour_tokens: Any = None, day_tokens: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """Sets the scope's budgets (None: no budget of that kind; all None removes them). -> the gate row"""
    kind, scope = scope_arg(kind, scope)
    return db.one("gate_budget", kind=kind, scope=scope,
                  hour_cost=_amount(hour_cost, "hour cost"), day_cost=_amount(day_cost, "day cost"),
                  hour_tokens=_tokens(hour_tokens, "hour tokens"), day_tokens=_tokens(day_tokens, "day tokens"),
                  now=now)


def status(db: Database, kind: str | None = None, scope: str | None = None,
           now: datetime | None = None) -> list[dict[str, Any]]:
    """Every gate (or one kind, or one scope) with what holds it back now (``held``: paused,
    budget, rate or None), its spend in the current hour and day and its tasks in flight."""
    if kind is not None and scope is not None:
        kind, scope = scope_arg(kind, scope)
    elif kind is not None and kind not in KINDS:
        raise errors.InvalidInput(f"scope kind must be team or category, not {inputs.shown(kind)}")
    return db.all("gates_list", kind=kind, scope=scope, now=now)


def paused(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """The gates that hold claims back now (paused, budget spent or rate reached)."""
    return [g for g in status(db, now=now) if g["held"]]


def usage(db: Database, agent: Any = None, since: datetime | None = None) -> list[dict[str, Any]]:
    """What results reported spending, by agent, team and model (optionally one agent's, since a time)."""
    agent_id = None if agent is None else models.uuid_arg(agent, "agent")
    return db.all("usage_totals", agent=agent_id, since=since)


def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.InvalidInput(f"{what} must be a whole number from {low} to {high}, not {inputs.shown(value)}")
    return value


def _amount(value: Any, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except ArithmeticError:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > Decimal(10) ** 12:
        raise errors.InvalidInput(f"{what} budget must be a number from 0 to 10^12, not {inputs.shown(value)}")
    return amount


def _tokens(value: Any, what: str) -> int | None:
    return None if value is None else _whole(value, f"{what} budget", 0, 10**15)
