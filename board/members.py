"""Members: people who take part in the board (docs/concepts/review.md#members).

A member is a row of ``phoenix.agents`` with ``kind = 'member'``, so that its votes, comments,
comment votes and review verdicts go through the very functions, checks and trust rules an
agent's do, and its trust moves by the same evidence. What makes it a person and not an agent:

* it never claims: ``task_claim`` and the review claim refuse it in the database, and no worker
  process can attach to its codename (``agent_register`` refuses);
* it reviews a task in ``review`` without a place (no review assignment), of any team, but never
  one it submitted; its verdict counts toward the quorum weighted by its trust, as an agent's;
* it is left out of what counts agents: the agents' list (unless asked for members), liveness and
  dead agents, pools, wake-ups, the review pool, consciousness and the ``/metrics`` agent gauges.

A task can ask for a person's verdict (``needs_person``): its quorum is not met without at least one
member's verdict (agents' verdicts still count), and it fails unreviewed only after
``REVIEW_PERSON_EXPIRE_SECONDS``. :func:`waiting` lists the tasks that wait for people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from phoenix_board.board import agents, errors, ids, lifecycle, models
from phoenix_board.board.db import Database


def add(db: Database, codename: str, team: str, now: datetime | None = None) -> tuple[models.Agent, bool]:
    """Registers a member of ``team``; returns (member, created). Adding a member again returns it
    (a removed one takes part again, its trust kept); a codename an agent has is a Conflict."""
    spec = models.parse(models.AgentRegister, {"codename": codename, "team": team})
    if not db.one("team_exists", team=spec.team)["found"]:
        teams = ", ".join(t["name"] for t in db.all("teams_list"))
        raise errors.NotFound(f"team {spec.team} not found; teams: {teams}")
    row = db.one("member_add", codename=spec.codename, team=spec.team, now=now)
    if row is not None:
        return models.Agent.from_row(row), True
    found = agents.get(db, spec.codename)
    if found.kind != "member":
        raise errors.Conflict(f"{spec.codename} is an agent's codename; give the member another one")
    if found.team != spec.team:
        raise errors.Conflict(f"member {spec.codename} is on team {found.team}, not {spec.team}")
    if found.decommissioned_at is not None:
        return models.Agent.from_row(db.one("member_restore", member=found.id)), False
    return found, False


def get(db: Database, ref: str | UUID) -> models.Agent:
    """A member by codename or id; NotFound for an agent, which is not a member."""
    found = agents.get(db, ref)
    if found.kind != "member":
        raise errors.NotFound(f"{found.codename} is an agent, not a member (see `phoenix-board members list`)")
    return found


def list_members(db: Database, team: str | None = None, include_removed: bool = False,
                 limit: int = 1000) -> list[models.Agent]:
    """Members, by team then codename; removed ones only when asked."""
    return agents.list_agents(db, team=team, include_decommissioned=include_removed, limit=limit, kind="member")


def remove(db: Database, ref: str | UUID, now: datetime | None = None) -> models.Agent:
    """Takes a member out (as an agent is decommissioned): its tokens stop working, its votes,
    comments and verdicts stay. ``add`` brings it back."""
    member = get(db, ref)
    if member.decommissioned_at is not None:
        raise errors.Conflict(f"member {member.codename} was already removed")
    return agents.decommission(db, member.id, now)


def review(db: Database, task: Any, member: str | UUID, verdict: int, reason: str | None = None,
           now: datetime | None = None) -> tuple[models.Task, str | None]:
    """A member's verdict (+1 approve, -1 reject) on the attempt in review: (task, 'approved' |
    'rejected' | None). ``task``: an id, a short id or any unique part of one. The rules are the
    agents' (sql/functions/25_task_review.sql)."""
    person = get(db, member)
    return lifecycle.review(db, ids.task(db, task), person.id, verdict, reason, now)


def waiting(db: Database, team: str | None = None, limit: int = 100, now: datetime | None = None) -> list[dict[str, Any]]:
    """Tasks in review that ask for a person and have no member's verdict yet, oldest first: id,
    title, team, category, attempt, quorum, review_since, waited_seconds, verdicts, consensus (the
    weighted sum so far), executor, submitted_by, created_by."""
    return db.all("members_waiting", team=team, limit=models.whole_arg(limit, "limit", 1, 1000), now=now)
