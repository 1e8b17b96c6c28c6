"""What each page shows, read through the board's Python API: plain functions of a database
handle (run in a worker thread by :func:`pages.read`, as the asking principal), returning what
the templates need. Nothing here writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from phoenix_board.board import (agents, comments, consciousness, delegation, federation, health, ids, lifecycle,
                                 ranking, trust, votes)
from phoenix_board.board.db import Database

PAGE = 30  # tasks per board page: a screenful on a phone, a glance on a desk
FEDERATION_HOURS = (1, 6, 24, 168)  # the ranges the federation page offers; past 6 hours, the hourly rollup


def named(db: Database, agent_ids: Any) -> dict[Any, dict[str, Any]]:
    """Codename and trust of the agents a page names, by id."""
    wanted = sorted({a for a in agent_ids if a is not None}, key=str)
    if not wanted:
        return {}
    return {r["id"]: r for r in db.all("web_agents_named", ids=wanted)}


def team_names(db: Database) -> list[str]:
    """The teams, for the filters: names only (teams.overview counts every team's live tasks, a
    cost each board page need not pay)."""
    return [t["name"] for t in db.all("teams_list")]


def board(db: Database, sort: str, *, team: str | None, status: str | None, category: str | None,
          assignee: str | None, creator: str | None, cursor: str | None) -> dict[str, Any]:
    assignee_id = agents.resolve(db, assignee) if assignee else None
    creator_id = agents.resolve(db, creator) if creator else None
    rows, nxt = ranking.page(db, sort, team=team, statuses=[status] if status else None, category=category,
                             assignee=assignee_id, creator=creator_id, cursor=cursor, limit=PAGE)
    return {"rows": rows, "next": nxt, "short": ids.short(r["id"] for r in rows),
            "agents": named(db, (r["assigned_to"] for r in rows)), "teams": team_names(db)}


def row(db: Database, task_id: Any) -> dict[str, Any]:
    """One task as the board lists it (the live script's row refresh)."""
    task = lifecycle.get(db, task_id)
    r = {name: getattr(task, name) for name in ranking.LISTED}
    r["status"] = task.status.value
    return {"rows": [r], "short": ids.short([task.id]), "agents": named(db, [task.assigned_to])}


def task(db: Database, ref: str) -> dict[str, Any]:
    task_id = ids.task(db, ref)
    t = lifecycle.get(db, task_id)
    cast = votes.votes_for(db, t.id)
    thread = comments.thread(db, t.id)
    history = lifecycle.events(db, t.id)
    deps = [lifecycle.get(db, d) for d in t.depends_on]
    dependents = [lifecycle.get(db, d) for d in (t.blocks or [])]
    tree = delegation.tree(db, t.id)
    people = named(db, [t.created_by, t.assigned_to, t.delegated_by, t.escalated_to,
                        *(v["agent_id"] for v in cast)])
    shown = [t.id, *(d.id for d in deps), *(d.id for d in dependents), *(n["id"] for n in tree),
             *(n["parent_id"] for n in tree), *(c["id"] for c in thread)]
    return {"task": t, "votes": cast, "reviews": votes.reviews_for(db, t.id), "comments": thread,
            "history": history, "deps": deps, "dependents": dependents, "tree": tree, "agents": people,
            "short": ids.short(shown)}


def agent_list(db: Database, team: str | None, now: datetime) -> dict[str, Any]:
    rows = agents.list_agents(db, team, include_decommissioned=False)
    people = agents.list_agents(db, team, include_decommissioned=False, kind="member")
    return {"agents": rows, "members": people, "state": {a.id: health.agent_state(a, now) for a in rows},
            "short": ids.short(a.current_task for a in rows), "teams": team_names(db)}


def agent(db: Database, codename: str, now: datetime) -> dict[str, Any]:
    a = agents.get(db, codename)
    interactions = trust.history(db, a.id, limit=30)
    recent = agents.tasks_recent(db, a.id, limit=20)
    return {"agent": a, "state": health.agent_state(a, now), "topology": federation.topology(db, a.id),
            "recent": recent, "counts": agents.task_counts(db, a.id), "interactions": interactions, "cascades": db.all("web_agent_cascades", agent=a.id, limit=10),
            "short": ids.short([*(r["id"] for r in recent), *(i["task_id"] for i in interactions), a.current_task])}


def federation_page(db: Database, hours: int, team: str | None, now: datetime) -> dict[str, Any]:
    kind, timeline = consciousness.history(db, now - timedelta(hours=hours), now, team)
    populated = db.one("matview_populated", view="federation_dashboard")["ispopulated"]
    return {"latest": consciousness.latest(db, now), "kind": kind, "timeline": timeline,
            "dashboard": consciousness.dashboard(db) if populated else [],
            "pairs": federation.pairs(db, team, now),
            "cascades": db.all("cascades_recent", since=now - timedelta(days=7), limit=10),
            "teams": team_names(db)}


def utcnow() -> datetime:
    return datetime.now(UTC)
