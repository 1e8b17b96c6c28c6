"""The forms (POST): vote, comment, reply, comment vote, a member's review verdict.

Every post passes ``session.checked_post`` (same origin, the session's form token) before it
reads a field. A post is one call of the board's Python API, so one transaction: refused, it
changes nothing. Without JavaScript the answer is a redirect back to the page (303) with a note,
or an error page with the one-line message; the page's script posts with ``X-Phoenix-Fetch`` and
gets JSON instead, then refreshes what changed in place.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from phoenix_board.api import auth
from phoenix_board.board import comments, errors, ids, members, votes
from phoenix_board.web import pages, render, session

FETCH_HEADER = "x-phoenix-fetch"  # set by web.js: answer in JSON, not with a redirect


def _back(target: str, note: str) -> str:
    path, _, query = session.safe_next(target).partition("?")
    path, _, anchor = path.partition("#")
    kept = [(k, v) for k, v in urllib.parse.parse_qsl(query) if k != "note"]
    return f"{path}?{urllib.parse.urlencode([*kept, ('note', note)])}" + (f"#{anchor}" if anchor else "")


def action(handler: Callable[[Request, session.Viewer, dict[str, str]], Any]) -> Callable[[Request], Any]:
    """A checked post: the handler returns the note to show; errors answer with their status."""

    async def endpoint(request: Request) -> Response:
        wants_json = request.headers.get(FETCH_HEADER) == "1"
        viewer = None
        try:
            viewer, fields = await session.checked_post(request)
            note = await handler(request, viewer, fields)
        except auth.Unauthenticated as exc:
            request.app.state.metrics.auth_failures.inc()
            if wants_json:
                return JSONResponse({"error": exc.message}, status_code=401)
            # back to the page the form was on, not to the form's address
            referer = urllib.parse.urlsplit(request.headers.get("referer", ""))
            return pages.to_signin(request, exc.message, session.safe_next(referer.path or "/"))
        except errors.BoardError as exc:
            if wants_json:
                return JSONResponse({"error": exc.message}, status_code=pages.status_of(exc))
            return render.page(request, "error.html", viewer, status=pages.status_of(exc), message=exc.message)
        if wants_json:
            return JSONResponse({"note": note})
        return RedirectResponse(_back(fields.get("next", "/"), note), status_code=303)

    endpoint.__name__ = handler.__name__
    return endpoint


def _choice(fields: dict[str, str], name: str, allowed: dict[str, int]) -> int:
    value = fields.get(name, "")
    if value not in allowed:
        raise errors.InvalidInput(f"{name} must be one of: {', '.join(allowed)}")
    return allowed[value]


VOTES = {"1": 1, "-1": -1, "0": 0}
VERDICTS = {"approve": 1, "reject": -1}


async def acting(request: Request, viewer: session.Viewer, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(db, actor, *args)`` as the signed-in participant: an agent token acts as its agent,
    on the agent pool under its row-level security, exactly as over GraphQL; a member token as its
    member (board/members.py). Operators and readers take part through an agent or member token."""
    p = viewer.principal
    if p.kind not in ("agent", "member"):
        raise errors.Forbidden(f"a {p.kind} token does not take part: sign in with an agent's or a member's token "
                               "to vote, comment or review")
    return await pages.context(request, viewer).take_part(None, fn, *args)  # the API's rule, in one place


async def _ref(request: Request, viewer: session.Viewer, resolve: Callable[..., UUID], ref: str) -> UUID:
    return await pages.read(request, viewer, resolve, ref)


@action
async def vote(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    value = _choice(fields, "vote", VOTES)
    task = await _ref(request, viewer, ids.task, request.path_params["ref"])
    row = await acting(request, viewer, lambda db, a: votes.vote(db, task, a, value))
    return f"vote recorded: score {row['score']} (+{row['upvotes']} / -{row['downvotes']})"


@action
async def comment(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    task = await _ref(request, viewer, ids.task, request.path_params["ref"])
    parent = fields.get("parent") or None
    parent_id = None if parent is None else await _ref(request, viewer, ids.comment, parent)
    content = fields.get("content", "")
    await acting(request, viewer, lambda db, a: comments.add(db, task, a, content, parent_id))
    return "reply posted" if parent_id else "comment posted"


@action
async def comment_vote(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    value = _choice(fields, "vote", VOTES)
    target = await _ref(request, viewer, ids.comment, request.path_params["ref"])
    row = await acting(request, viewer, lambda db, a: votes.comment_vote(db, target, a, value))
    return f"comment vote recorded (+{row['upvotes']} / -{row['downvotes']})"


@action
async def review(request: Request, viewer: session.Viewer, fields: dict[str, str]) -> str:
    """A member's verdict on the attempt in review; it counts toward the quorum weighted by the
    member's trust, as an agent's (board/members.py)."""
    viewer.principal.require("member")
    verdict = _choice(fields, "verdict", VERDICTS)
    reason = fields.get("reason") or None
    task = await _ref(request, viewer, ids.task, request.path_params["ref"])
    _, decided = await acting(request, viewer, lambda db, m: members.review(db, task, m, verdict, reason))
    return f"verdict recorded; the review is decided: {decided}" if decided else "verdict recorded"
