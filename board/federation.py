"""Partners, supervisors and hormone cascades (docs/concepts/partners.md, docs/concepts/cascades.md).

Operators set the federation's topology: ``pair``/``unpair`` (symmetric, at most
``constants.PARTNERS_MAX`` partners each) and ``supervise`` (one supervisor per agent; the relation
is a forest, so a cycle is refused). Each is one SQL function holding both sides' rows locked.

A hormone cascade spreads one hormone's change from its sources to partners, supervisor,
subordinates and recent collaborators, attenuated per hop (spreading activation with decay; the
edge weight plays the contagion channel strength of emotion-contagion models). The operator's
``cascade`` spreads at once; a cascade that an event started is left pending by the event's
transaction and spread by the beat (``run_pending``), each in its own transaction, so that an
event never waits for other agents' rows while holding its own.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from phoenix_board.board import agents, constants, errors, models
from phoenix_board.board.hormones import HORMONES
from phoenix_board.board.db import Database

def _ids(db: Database, refs: list[str | UUID]) -> list[UUID]:
    return [agents.resolve(db, r) for r in refs]


def pair(db: Database, a: str | UUID, b: str | UUID, now: datetime | None = None) -> list[models.Agent]:
    """Pairs two agents (both ways); pairing a pair again changes nothing. Returns both rows."""
    x, y = _ids(db, [a, b])
    return [models.Agent.from_row(r) for r in db.all("agent_pair", a=x, b=y, now=now)]


def unpair(db: Database, a: str | UUID, b: str | UUID, now: datetime | None = None) -> list[models.Agent]:
    x, y = _ids(db, [a, b])
    return [models.Agent.from_row(r) for r in db.all("agent_unpair", a=x, b=y, now=now)]


def supervise(db: Database, supervisor: str | UUID | None, subordinate: str | UUID,
              now: datetime | None = None) -> list[models.Agent]:
    """Makes ``supervisor`` the supervisor of ``subordinate``; None removes its supervisor."""
    sub = agents.resolve(db, subordinate)
    sup = None if supervisor is None else agents.resolve(db, supervisor)
    return [models.Agent.from_row(r) for r in db.all("agent_supervise", supervisor=sup, subordinate=sub, now=now)]


def topology(db: Database, agent: str | UUID) -> dict[str, Any]:
    """An agent's partners, supervisor and subordinates, by codename."""
    row = db.one("agent_get", agent=agents.resolve(db, agent))
    if row is None:
        raise errors.NotFound(f"agent {agent} not found")
    ids = [*row["paired_agents"], *row["subordinate_agents"], *([row["supervisor_agent"]] if row["supervisor_agent"] else [])]
    names = {r["id"]: r["codename"] for r in db.all("agents_codenames", ids=ids)}
    return {
        "partners": sorted(names[i] for i in row["paired_agents"]),
        "supervisor": names.get(row["supervisor_agent"]) if row["supervisor_agent"] else None,
        "subordinates": sorted(names[i] for i in row["subordinate_agents"]),
    }


def pairs(db: Database, team: str | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every partner pair (of a team) with its entanglement_strength and coherence_time."""
    return db.all("pairs_entanglement", team=team, now=now)


def _cascade_id(value: str | UUID | None) -> UUID:
    if value is None:
        return uuid4()
    return models.uuid_arg(value, "cascade id")


def cascade(db: Database, hormone: str, intensity: float, *, team: str | None = None, agent: str | UUID | None = None,
            cascade_id: str | UUID | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The operator's cascade (the seed's ``cascadeHormone``) from one agent or a whole team, spread
    at once. Replaying a ``cascade_id`` returns the first run's row and changes nothing."""
    if hormone not in HORMONES:
        raise errors.InvalidInput(f"hormone must be one of {', '.join(HORMONES)}, not {hormone!r}")
    if isinstance(intensity, bool) or not isinstance(intensity, (int, float)) or not math.isfinite(intensity) \
            or intensity == 0 or abs(intensity) > constants.CASCADE_INTENSITY_MAX:
        raise errors.InvalidInput(
            f"intensity must be a non-zero number from -{constants.CASCADE_INTENSITY_MAX} to {constants.CASCADE_INTENSITY_MAX}, "
            f"not {intensity!r}")
    if (team is None) == (agent is None):
        raise errors.InvalidInput("give either a team or an agent to start the cascade from")
    source = None if agent is None else agents.resolve(db, agent)
    return db.one("hormone_cascade", id=_cascade_id(cascade_id), hormone=hormone, intensity=float(intensity),
                  team=team, agent=source, now=now)


def run_pending(db: Database, now: datetime | None = None, limit: int = constants.CASCADE_PENDING_BATCH) -> int:
    """Spreads the cascades that events started, one transaction each (so each takes its agents in
    id order and holds no other cascade's); returns how many it spread. Safe to run twice: a
    cascade already spread is left as it is."""
    done = 0
    for row in db.all("hormone_cascades_pending", limit=limit):
        applied = db.one("hormone_cascade_run", id=row["id"], now=now)
        done += applied is not None
    return done


def demo_topology(db: Database, team: str, now: datetime | None = None, only: list[UUID] | None = None) -> dict[str, Any]:
    """Sets up a small federation in ``team`` for a demo, idempotently: its active agents in
    codename order are paired two by two (1-2, 3-4, ...) and the first supervises every other one.
    Agents already paired or supervised elsewhere keep that (a pair that would pass
    PARTNERS_MAX is skipped). With ``only``, just those agents take part: the demo rewires no
    agent it did not start. Returns {"pairs": [[a, b], ...], "supervisor": codename or None}."""
    rows = db.all("agents_topology", team=team)
    if only is not None:
        keep = set(only)
        rows = [r for r in rows if r["id"] in keep]
    made: list[list[str]] = []
    for x, y in zip(rows[0::2], rows[1::2]):
        try:
            pair(db, x["id"], y["id"], now)
            made.append([x["codename"], y["codename"]])
        except errors.Conflict:
            continue
    head = rows[0] if rows else None
    if head is not None:
        for other in rows[1:]:
            if other["supervisor_agent"] is None:
                try:
                    supervise(db, head["id"], other["id"], now)
                except errors.Conflict:  # it supervises head's own supervisor chain
                    continue
    return {"pairs": made, "supervisor": head["codename"] if head else None}
