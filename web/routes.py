"""The web's routes, mounted by ``api/app.py``'s ``create_app`` beside ``/graphql``; and signing
in and out (the session: web/session.py)."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from phoenix_board.api import auth
from phoenix_board.board import errors
from phoenix_board.web import actions, console, pages, render, session


async def signin(request: Request) -> Response:
    """GET: the form. POST: checks the token and keeps it in the session cookie, never in a page;
    GraphiQL (``/graphql``) and the pages' websocket read the same cookie."""
    next_page = session.safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return render.page(request, "signin.html", None, next_page=next_page)
    fields: dict[str, str] = {}
    try:
        if not session.same_origin(request):
            raise session.CrossSite()
        fields = await session.form(request)
        next_page = session.safe_next(fields.get("next"))
        token = fields.get("token", "").strip()
        if not token:
            raise auth.Unauthenticated("paste an API token (an operator makes one with `phoenix-board tokens create`)")
        await request.app.state.pools.run(auth.authenticate, f"Bearer {token}", request.app.state.settings)
    except errors.BoardError as exc:
        if isinstance(exc, auth.Unauthenticated):
            request.app.state.metrics.auth_failures.inc()
        return render.page(request, "signin.html", None, status=pages.status_of(exc) if not isinstance(
            exc, auth.Unauthenticated) else 401, next_page=next_page, error=exc.message)
    response = RedirectResponse(next_page, status_code=303)
    response.set_cookie(session.COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


async def signout(request: Request) -> Response:
    """Ends the session: the cookie goes (a cross-site post may not sign a person out either)."""
    if not session.same_origin(request):
        return render.page(request, "error.html", None, status=403, message=session.CrossSite.__doc__)
    fields = await session.form(request)
    token = request.cookies.get(session.COOKIE)
    if token and fields.get("csrf") != session.csrf_for(token):
        return render.page(request, "error.html", None, status=403, message=session.CrossSite.__doc__)
    response = RedirectResponse("/signin?note=signed+out", status_code=303)
    response.delete_cookie(session.COOKIE, path="/")
    return response


ROUTES = [
    Route("/", pages.board),
    Route("/t/{ref}", pages.task),
    Route("/t/{ref}/row", pages.task_row),
    Route("/t/{ref}/vote", actions.vote, methods=["POST"]),
    Route("/t/{ref}/comment", actions.comment, methods=["POST"]),
    Route("/c/{ref}/vote", actions.comment_vote, methods=["POST"]),
    Route("/t/{ref}/review", actions.review, methods=["POST"]),
    Route("/agents", pages.agent_list),
    Route("/a/{codename}", pages.agent),
    Route("/federation", pages.federation),
    Route("/console", console.console),
    Route("/console/cancel", console.cancel, methods=["POST"]),
    Route("/console/boost", console.boost, methods=["POST"]),
    Route("/console/decommission", console.decommission, methods=["POST"]),
    Route("/console/pause", console.pause, methods=["POST"]),
    Route("/console/resume", console.resume, methods=["POST"]),
    Route("/console/retry", console.retry_task, methods=["POST"]),
    Route("/console/retry-bulk", console.retry_bulk, methods=["POST"]),
    Route("/signin", signin, methods=["GET", "POST"]),
    Route("/signout", signout, methods=["POST"]),
    Mount("/static", StaticFiles(directory=str(resources.files("phoenix_board.web") / "static")), name="static"),
]
