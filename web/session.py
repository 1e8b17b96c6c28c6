"""Who is looking at a page, and the checks every form post passes.

A person signs in with an API token; the token is kept in the API's HttpOnly, SameSite=Strict
cookie (``api/app.py`` reads the same cookie for GraphiQL and the websocket handshake), never in
a page. Each request authenticates the cookie again (``auth.authenticate``, cached for
``api_token_cache_seconds``), so a token that expires or is revoked ends the session: the
cookie is dropped and the person is sent to sign in.

Cross-site posts are refused twice over: the Origin (or, lacking it, the Referer) must be this
server's own, and every form carries a token bound to the session: an HMAC of a fixed label keyed
by the session's API token. A page on another site can read neither the cookie nor the pages, so
it cannot compute or copy the form token; the server keeps no state for it, so it holds across
server processes and restarts, and it changes when the person signs in with another token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import urllib.parse
from typing import Any

from starlette.requests import Request

from phoenix_board.api import auth
from phoenix_board.board import errors

COOKIE = "phoenix_token"  # the API's sign-in cookie (api/app.py), shared by GraphiQL and the websocket
_CSRF_LABEL = b"phoenix-board web form"
FORM_MAX = 64 * 1024  # a form body past this is refused: comments are far shorter


class CrossSite(errors.Forbidden):
    """This form was not posted from this site's own page: reload the page and send it again."""


@dataclasses.dataclass(frozen=True)
class Viewer:
    """The principal of a page request, and the form token of its session (None: not signed in)."""

    principal: auth.Principal
    csrf: str | None

    @property
    def signed_in(self) -> bool:
        return self.principal.kind != "public"

    @property
    def name(self) -> str:
        p = self.principal
        return p.codename or f"{p.kind} token {p.token_id}"


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


async def viewer(request: Request) -> Viewer:
    """The viewer of this request; raises auth.Unauthenticated when it must sign in (no cookie
    and no public reads, or a cookie whose token no longer works)."""
    app = request.app
    token = request.cookies.get(COOKIE) or None
    principal = await app.state.pools.run(auth.authenticate, f"Bearer {token}" if token else None,
                                          app.state.settings)
    return Viewer(principal, csrf_for(token) if token else None)


def same_origin(request: Request) -> bool:
    """The post came from a page of this server: its Origin, else its Referer, names this host."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    parts = urllib.parse.urlsplit(source)
    return parts.scheme in ("http", "https") and parts.netloc == request.headers.get("host", "")


async def form(request: Request) -> dict[str, str]:
    """The urlencoded body as one value per field (read by hand: Starlette's parser needs
    python-multipart, one more dependency for a handful of short fields)."""
    body = await request.body()
    if len(body) > FORM_MAX:
        raise errors.InvalidInput(f"the form is larger than {FORM_MAX // 1024} KB")
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


async def checked_post(request: Request) -> tuple[Viewer, dict[str, str]]:
    """A signed-in viewer and the form of a post that passed both cross-site checks."""
    if not same_origin(request):
        raise CrossSite("this form was not posted from this site's own page (Origin or Referer missing or "
                        "foreign): reload the page and send it again")
    v = await viewer(request)
    fields = await form(request)
    if v.csrf is None:
        raise auth.Unauthenticated("sign in first")
    if not hmac.compare_digest(fields.get("csrf", ""), v.csrf):
        raise CrossSite("this form's session token is missing or out of date: reload the page and send it again")
    return v, fields


def safe_next(value: Any) -> str:
    """A redirect target that stays on this site (a path), else the board."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
