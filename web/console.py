"""The operations console (``/console``): the board's figures (board/console.py computes them, as
for the API's ``console`` query) and the gates that hold claims back (board/gates.py), which
operator and reader tokens see, and the operator's actions: cancel a task or a tree, boost a
priority, decommission an agent, pause and resume a team or a category, retry a failed task, and
retry failed tasks by filter.

A bulk retry counts first: a post without ``expect`` only counts the tasks the filter matches and
says so; the retry runs when ``expect`` is sent and equals the count at that moment, so what the
operator confirmed is what the filter takes (a count that moved in between is refused, with the
new count, and nothing changes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from phoenix_board.board import agents, delegation, errors, gates, ids, lifecycle, retry
from phoenix_board.api.schema import people
from phoenix_board.board import console as board_console
from phoenix_board.board.db import Database
from phoenix_board.web import actions, pages, reads, render, session

PRIORITY_MIN, PRIORITY_MAX = 1, 10  # the tasks table's own range (tasks_priority_range)


def figures(db: Database, settings: Any, since: str | None, now: datetime) -> dict[str, Any]:
    """The console's figures as the API's ``console`` query has them (board/console.py, with the
    beat's periods and, where ``PHOENIX_PROMETHEUS_URL`` names a Prometheus, the alerts that fire),
    arranged for the page."""
    data = people.figures(db, board_console.parse_since(since, now), None, settings)
    depth: dict[str, dict[str, int]] = {}
    for r in data["depth"]:
        depth.setdefault(r["team"], {})[r["status"]] = r["n"]
    shown = [r["latest_task"] for r in data["failures"]] + [r["task_id"] for r in data["oldest_claimable"]]
    shown += [r["id"] for r in data["stalled_reviews"]] + [r["id"] for r in data["waiting_for_people"]]
    held = gates.paused(db, now)
    return {**data, "pivot": depth, "short": ids.short(shown), "since_text": since or "1h", "held_gates": held}


@pages.page
async def console(request: Request, viewer: session.Viewer) -> Response:
    viewer.principal.require("operator", "reader")  # as the API's console query; only operators act
    now = reads.utcnow()
    since = request.query_params.get("since") or None
    data = await request.app.state.pools.run(figures, request.app.state.settings, since, now, write=False)
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


def _given(fields: dict[str, str], name: str) -> str | None:
    """A form field, None when left empty (an empty filter field means "any")."""
    value = (fields.get(name) or "").strip()
    return value or None


@actions.action
async def pause(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    _operator(viewer)
    kind, scope = fields.get("kind", ""), (fields.get("scope") or "").strip()
    await request.app.state.pools.run(gates.pause, kind, scope, _given(fields, "reason"))
    return f"{kind} {scope} paused: no new claims of it; work in flight finishes"


@actions.action
async def resume(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    _operator(viewer)
    kind, scope = fields.get("kind", ""), (fields.get("scope") or "").strip()
    await request.app.state.pools.run(gates.resume, kind, scope)
    return f"{kind} {scope} resumed: its tasks are claimed again"


@actions.action
async def retry_task(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    _operator(viewer)

    def run(db: Database) -> tuple[Any, int, int]:
        return retry.retry(db, ids.task(db, fields.get("task", "")), _given(fields, "reason") or "retried from the console")

    task, retried, revived = await request.app.state.pools.run(run)
    also = retried - 1 + revived
    return f"task {ids.short_one(task.id)} is {task.status.value} again" + (f" (and {also} more with it)" if also else "")


@actions.action
async def retry_bulk(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    _operator(viewer)
    status = _given(fields, "status")
    flt = retry.parse_filter("retry", team=_given(fields, "team"), category=_given(fields, "category"),
                             status=None if status is None else status.split(","),
                             reason_like=_given(fields, "reason_like"))
    expect = _given(fields, "expect")
    if expect is not None and not expect.isdigit():
        raise errors.InvalidInput(f"how many must be the count you were shown, a whole number, not {expect[:20]!r}")

    def run(db: Database) -> str:
        matched = retry.count(db, flt)
        if expect is None and matched == 0:
            return "no task matches: nothing to retry"
        if expect is None:
            return (f"{matched} task{'s' if matched != 1 else ''} match; to retry them, send the same filter "
                    f"with {matched} as how many")
        if int(expect) != matched:
            raise errors.Conflict(f"{matched} tasks match now, not {expect}: nothing was retried; check the filter "
                                  f"and send {matched} to retry them")
        result = retry.run(db, flt, "retried from the console")
        return (f"retried {result.done} of {result.matched} tasks"
                + (f" ({result.also} more came back with them)" if result.also else "")
                + (f"; {result.skipped} skipped: {result.errors[0]}" if result.skipped else ""))

    return await request.app.state.pools.run(run)
