"""Whether agents and beat jobs are alive, judged in one place for every view that shows them
(`doctor`, `agents list`/`show`, the live view): a dead agent or a stale job is named as such,
never shown as "ok" with only a time beside it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from phoenix_board.board import constants, models


def agent_state(agent: models.Agent, now: datetime | None = None) -> str:
    """``live``, ``dead`` or ``decommissioned`` (``member`` for a member, a person). Dead is the complement of the board's "active"
    (a heartbeat within ACTIVE_AGENT_SECONDS, as /metrics and the alerts count it): the agent's
    process is gone or hung, and a claim it holds returns to the board when its lease expires."""
    if agent.decommissioned_at is not None:
        return "decommissioned"
    if agent.kind == "member":
        return "member"  # a person (board/members.py): no process, so no heartbeat to judge
    now = now or datetime.now(UTC)
    return "dead" if (now - agent.last_heartbeat).total_seconds() > constants.ACTIVE_AGENT_SECONDS else "live"


def job_state(run: dict[str, Any], period: float | None, now: datetime | None = None) -> str:
    """``ok``, ``failing`` (its last run raised) or ``stale`` (not started for BEAT_STALE_PERIODS
    of its period: the beat is not running)."""
    now = now or datetime.now(UTC)
    started = run.get("last_started_at")
    if period is not None and (started is None or (now - started).total_seconds()
                               > constants.BEAT_STALE_PERIODS * period + constants.BEAT_STALE_GRACE_SECONDS):
        return "stale"
    return "ok" if run.get("last_error") is None else "failing"
