"""Agents: register or re-attach by codename, heartbeat, decommission, look up.

An agent is identified by a stable codename (a worker uses node name + pool index), so a
restarted process re-attaches to its row and keeps its counters, hormones and trust. A process
that works as an agent holds it with a token (``holder``): the database refuses a second live
process (docs/operations/running-agents.md).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from phoenix_board.board import errors, inputs, models
from phoenix_board.board.db import Database

_CODENAME = re.compile(models.CODENAME_PATTERN)


def register(db: Database, data: models.AgentRegister | dict[str, Any], now: datetime | None = None,
             holder: UUID | None = None) -> tuple[models.Agent, bool]:
    """Registers a new agent or re-attaches to an existing one; returns (agent, created).

    With ``holder`` the calling process holds the agent; Conflict while another token's hold is
    live. Re-attaching as the agent role needs the agent named (``acting_as``)."""
    spec = models.parse(models.AgentRegister, data)
    if not db.one("team_exists", team=spec.team)["found"]:
        teams = ", ".join(t["name"] for t in db.all("teams_list"))
        raise errors.NotFound(f"team {spec.team} not found; teams: {teams}")
    row = db.one(
        "agent_register",
        codename=spec.codename,
        team=spec.team,
        # on re-attach, fields the caller did not give keep their stored values
        role=spec.role if "role" in spec.model_fields_set else None,
        specialization=list(spec.specialization) if "specialization" in spec.model_fields_set else None,
        holder=holder,
        now=now,
    )
    return models.Agent.from_row(row), bool(row["created"])


def resolve(db: Database, ref: str | UUID) -> UUID:
    """An agent id from a UUID or a codename."""
    if isinstance(ref, UUID):
        return ref
    if not isinstance(ref, str):
        raise errors.InvalidInput(f"agent must be a codename or an id, not {inputs.shown(ref)}")
    text = ref.strip()
    try:
        return UUID(text)
    except ValueError:
        pass
    if not _CODENAME.fullmatch(text):  # no agent can have it, and PostgreSQL could not even compare it (NUL)
        raise errors.InvalidInput(f"agent {inputs.shown(text)} is neither an id nor a codename (which {models.CODENAME_RULE})")
    row = db.one("agent_by_codename", codename=text)
    if row is None:
        raise errors.NotFound(f"agent {text!r} not found (give a codename or an id; see `phoenix-board agents list`)")
    return row["id"]


def get(db: Database, ref: str | UUID) -> models.Agent:
    agent_id = resolve(db, ref)
    row = db.one("agent_get", agent=agent_id)
    if row is None:
        raise errors.NotFound(f"agent {agent_id} not found")
    return models.Agent.from_row(row)


def heartbeat(db: Database, agent: UUID, now: datetime | None = None, holder: UUID | None = None) -> models.Agent:
    """The agent is alive; with ``holder``, renews that process's hold (Conflict if it lost it)."""
    return models.Agent.from_row(db.one("agent_heartbeat", agent=models.uuid_arg(agent, "agent"), holder=holder, now=now))


def heartbeat_many(db: Database, agents: list[UUID], holder: UUID) -> set[UUID]:
    """The agents a pool process holds with ``holder`` are alive (one statement for all of them);
    returns those it no longer holds (another process took them, or decommissioned)."""
    return {row["agent"] for row in db.all("agents_heartbeat", agents=list(agents), holder=holder)}


def release(db: Database, agent: UUID, holder: UUID) -> bool:
    """Frees the agent's hold on a clean exit (only the holding token does); True if it held it."""
    return bool(db.one("agent_release", agent=models.uuid_arg(agent, "agent"), holder=holder)["released"])


def decommission(db: Database, agent: UUID, now: datetime | None = None) -> models.Agent:
    """Takes the agent out of service; a claim it holds goes back to the board."""
    return models.Agent.from_row(db.one("agent_decommission", agent=models.uuid_arg(agent, "agent"), now=now))


def decommission_stale(db: Database, after_seconds: float, now: datetime | None = None,
                       limit: int = 1000) -> list[dict[str, Any]]:
    """Decommissions the agents whose last heartbeat is more than ``after_seconds`` before ``now``
    and that hold no claim (docs/operations/decommission.md). -> {id, codename, team, last_heartbeat}."""
    if not after_seconds > 0:
        raise errors.InvalidInput(f"decommission after must be a positive number of seconds, not {after_seconds}")
    return db.all("agents_decommission_stale", after=float(after_seconds), limit=limit, now=now)


def list_agents(db: Database, team: str | None = None, include_decommissioned: bool = False, limit: int = 1000,
                kind: str = "agent") -> list[models.Agent]:
    """Agents (``kind="member"``: the members, board/members.py), by team then codename."""
    team = None if team is None else models.team_arg(team)
    rows = db.all("agents_list", team=team, all=include_decommissioned, limit=limit, kind=kind)
    return [models.Agent.from_row(r) for r in rows]


def tasks_recent(db: Database, agent: Any, limit: int = 10) -> list[dict[str, Any]]:
    """The tasks an agent worked lately, newest first, with how its last event on each went."""
    return db.all("agent_tasks_recent", agent=models.uuid_arg(agent, "agent"),
                  limit=models.whole_arg(limit, "limit", 1, 1000))


def task_counts(db: Database, agent: Any) -> dict[str, int]:
    """Attempts the agent claimed, completed and failed, counted from the task history."""
    return db.one("agent_task_counts", agent=models.uuid_arg(agent, "agent"))
