"""The pages (GET): each reads what it shows as the signed-in principal, the way the API's
resolvers do (``api/schema/context.py``): an agent token through its agent's row-level security
on the agent pool, everyone else through the read pool. Without a session, a visitor reads only
when the API allows public reads (``api_public_read``); otherwise it is sent to sign in."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from phoenix_board.api import auth
from phoenix_board.api.schema.context import Context
from phoenix_board.board import errors, history, ranking
from phoenix_board.web import charts, render, reads, session

T = TypeVar("T")
CHART_SPAN = timedelta(days=1)  # an agent's charts: its last day
STATUS_CODES = ((errors.NotFound, 404), (errors.Forbidden, 403), (errors.Conflict, 409), (errors.InvalidInput, 400),
                (errors.Unavailable, 503))


def status_of(exc: errors.BoardError) -> int:
    return next((code for kind, code in STATUS_CODES if isinstance(exc, kind)), 400)


def context(request: Request, viewer: session.Viewer) -> Context:
    """The API's context for this viewer: the one home of the rules for who reads and acts how."""
    return Context(pools=request.app.state.pools, settings=request.app.state.settings, principal=viewer.principal,
                   request=request)


async def read(request: Request, viewer: session.Viewer, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(db, ...)`` as the viewer reads, by the API's rule (Context.read)."""
    return await context(request, viewer).read(fn, *args, **kwargs)


async def read_shared(request: Request, viewer: session.Viewer, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Figures every principal may see (the timeline, the dashboard, agents' history): Context.read_shared."""
    return await context(request, viewer).read_shared(fn, *args, **kwargs)


def to_signin(request: Request, message: str | None = None, back: str | None = None) -> Response:
    """To the sign-in page, then back to ``back`` (default: this page)."""
    here = back or request.url.path + ("?" + request.url.query if request.url.query else "")
    target = "/signin?" + urllib.parse.urlencode({"next": here, **({"note": message} if message else {})})
    response = RedirectResponse(target, status_code=303)
    if request.cookies.get(session.COOKIE):
        response.delete_cookie(session.COOKIE, path="/")  # its token no longer works: the session ends
    return response


def failed(request: Request, viewer: session.Viewer | None, exc: errors.BoardError) -> Response:
    return render.page(request, "error.html", viewer, status=status_of(exc), message=exc.message)


def page(handler: Callable[[Request, session.Viewer], Any]) -> Callable[[Request], Any]:
    """A page handler given its viewer; an unsigned or expired session goes to sign in, and a
    board error becomes an error page with its one line and its HTTP status."""

    async def endpoint(request: Request) -> Response:
        try:
            viewer = await session.viewer(request)
        except auth.Unauthenticated as exc:
            if not request.cookies.get(session.COOKIE):
                return to_signin(request)  # not signed in yet: no failure to count
            request.app.state.metrics.auth_failures.inc()
            return to_signin(request, exc.message)
        except errors.BoardError as exc:
            return failed(request, None, exc)
        try:
            return await handler(request, viewer)
        except errors.BoardError as exc:
            return failed(request, viewer, exc)

    endpoint.__name__ = handler.__name__
    return endpoint


def _param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value or None


@page
async def board(request: Request, viewer: session.Viewer) -> Response:
    sort = _param(request, "sort") or ranking.Sort.HOT.value
    filters = {name: _param(request, name) for name in ("team", "status", "category", "assignee", "creator")}
    data = await read(request, viewer, reads.board, sort, cursor=_param(request, "after"), **filters)
    kept = {k: v for k, v in filters.items() if v}

    def link(**change: Any) -> str:
        query = {**kept, "sort": sort, **change}
        return "/?" + urllib.parse.urlencode({k: v for k, v in query.items() if v})

    return render.page(request, "board.html", viewer, sorts=[s.value for s in ranking.Sort], sort=sort,
                       filters=filters, link=link, statuses=_STATUSES, **data)


_STATUSES = ("open", "claimed", "in_progress", "review", "complete", "failed", "waiting", "cancelled")


@page
async def task_row(request: Request, viewer: session.Viewer) -> Response:
    data = await read(request, viewer, reads.row, request.path_params["ref"])
    return render.page(request, "row.html", viewer, **data)


@page
async def task(request: Request, viewer: session.Viewer) -> Response:
    ref = request.path_params["ref"]
    data = await read(request, viewer, reads.task, ref)
    full = data["task"].id.hex
    if ref != full:  # a short id typed by a person: the page's own address is the full id's
        return RedirectResponse(f"/t/{full}", status_code=303)
    return render.page(request, "task.html", viewer, **data)


@page
async def agent_list(request: Request, viewer: session.Viewer) -> Response:
    now = reads.utcnow()
    data = await read(request, viewer, reads.agent_list, _param(request, "team"), now)
    return render.page(request, "agents.html", viewer, now=now, team=_param(request, "team"), **data)


@page
async def agent(request: Request, viewer: session.Viewer) -> Response:
    now = reads.utcnow()
    data = await read(request, viewer, reads.agent, request.path_params["codename"], now)
    a = data["agent"]
    # the beat's samples of the last day (board/history.py), the last point the agent's value now
    points = await read_shared(request, viewer, history.series, a.id, now - CHART_SPAN)
    hormone_series = [(h, [(p["at"], p[h]) for p in points]) for h in ("dopamine", "oxytocin", "adrenaline", "cortisol")]
    trust_series = [(p["at"], p["trust"]) for p in points]
    return render.page(request, "agent.html", viewer, now=now,
                       hormone_chart=charts.line_chart(f"{a.codename}: hormone levels", hormone_series),
                       trust_chart=charts.line_chart(f"{a.codename}: trust", [("trust", trust_series)], 0.0, 1.0),
                       **data)


@page
async def federation(request: Request, viewer: session.Viewer) -> Response:
    now = reads.utcnow()
    try:
        hours = int(_param(request, "hours") or 6)
    except ValueError:
        raise errors.InvalidInput(f"hours must be one of {', '.join(map(str, reads.FEDERATION_HOURS))}") from None
    if hours not in reads.FEDERATION_HOURS:
        raise errors.InvalidInput(f"hours must be one of {', '.join(map(str, reads.FEDERATION_HOURS))}")
    team = _param(request, "team")
    data = await read_shared(request, viewer, reads.federation_page, hours, team, now)
    timeline = data["timeline"]
    if data["kind"] == "raw":
        by_team: dict[str, list[Any]] = {}
        for r in timeline:
            value = r["global_consciousness"] if r["team"] == "global" else r["team_consciousness"]
            by_team.setdefault(r["team"], []).append((r["time"], value))
        coherence = [(t, [(r["time"], r["team_coherence"]) for r in timeline if r["team"] == t])
                     for t in by_team if t != "global"]
    else:
        by_team = {}
        for r in timeline:
            by_team.setdefault(r["team"], []).append((r["bucket"], r["avg_consciousness"]))
        coherence = []
    chart = charts.line_chart(f"consciousness, last {hours} h ({'hourly rollup' if data['kind'] != 'raw' else 'snapshots'})",
                              sorted(by_team.items(), key=lambda kv: (kv[0] != "global", kv[0]))[:charts.SERIES_MAX])
    coherence_chart = (charts.line_chart(f"team coherence, last {hours} h", coherence[:charts.SERIES_MAX], 0.0, 1.0)
                       if coherence else None)
    return render.page(request, "federation.html", viewer, now=now, hours=hours, team=team, choices=reads.FEDERATION_HOURS,
                       chart=chart, coherence_chart=coherence_chart, charted=min(len(by_team), charts.SERIES_MAX),
                       series_total=len(by_team), **data)
