"""The operations console (``/console``): the board's figures for an operator, and its actions:
cancel a task or a tree, boost a priority, decommission an agent. Operator tokens only, for
reading as for acting: the console names every agent and every failure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from phoenix_board.board import agents, delegation, errors, health, ids, lifecycle
from phoenix_board.board.db import Database
from phoenix_board.web import actions, pages, reads, render, session

PRIORITY_MIN, PRIORITY_MAX = 1, 10  # the tasks table's own range (tasks_priority_range)


def figures(db: Database, now: datetime) -> dict[str, Any]:
    """The console's figures: depth by team and status, agents alive and dead by team, the beat's
    jobs and their last success, the relay's lag."""
    from phoenix_board.scheduler import jobs  # the periods the beat runs each job at (a leaf table)

    depth: dict[str, dict[str, int]] = {}
    for r in lifecycle.counts_by_status(db):
        depth.setdefault(r["team"], {})[r["status"]] = r["n"]
    alive: dict[str, dict[str, int]] = {}
    for a in agents.list_agents(db, limit=10_000):
        state = health.agent_state(a, now)
        alive.setdefault(a.team, {"live": 0, "dead": 0})[state] = alive.get(a.team, {}).get(state, 0) + 1
    periods = jobs.periods()
    beat = [{**r, "state": health.job_state(r, periods.get(r["job"]), now)} for r in db.all("beat_runs")]
    return {"depth": depth, "alive": alive, "beat": beat, "lag": db.one("outbox_lag", now=now)}


@pages.page
async def console(request: Request, viewer: session.Viewer) -> Response:
    viewer.principal.require("operator")
    now = reads.utcnow()
    data = await request.app.state.pools.run(figures, now, write=False)
    return render.page(request, "console.html", viewer, now=now, statuses=pages._STATUSES, **data)


def _operator(viewer: session.Viewer) -> None:
    viewer.principal.require("operator")


@actions.action
async def cancel(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    _operator(viewer)
    reason = fields.get("reason") or "cancelled from the console"

    def run(db: Database) -> tuple[Any, int]:
        return delegation.cancel(db, ids.task(db, fields.get("task", "")), None, reason)

    task, n = await request.app.state.pools.run(run)
    return f"cancelled {n} task{'s' if n != 1 else ''} (the tree of {ids.short_one(task.id)})"


@actions.action
async def boost(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    _operator(viewer)
    raw = fields.get("priority", "")
    if not (raw.isdigit() and PRIORITY_MIN <= int(raw) <= PRIORITY_MAX):
        raise errors.InvalidInput(f"priority must be a whole number from {PRIORITY_MIN} to {PRIORITY_MAX}")

    def run(db: Database) -> dict[str, Any]:
        task = ids.task(db, fields.get("task", ""))
        row = db.one("web_task_boost", task=task, priority=int(raw))
        if row is None:
            status = lifecycle.get(db, task).status.value  # NotFound when there is no such task
            raise errors.IllegalTransition(f"task {ids.short_one(task)} is {status}: only an open or waiting "
                                           "task's priority can change")
        return row

    row = await request.app.state.pools.run(run)
    return f"task {ids.short_one(row['id'])} now has priority {row['priority']}"


@actions.action
async def decommission(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    _operator(viewer)

    def run(db: Database) -> Any:
        return agents.decommission(db, agents.resolve(db, fields.get("agent", "")))

    agent = await request.app.state.pools.run(run)
    return f"agent {agent.codename} decommissioned"
