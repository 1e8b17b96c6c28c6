"""Who is asking: an API token in ``Authorization: Bearer <token>`` becomes a :class:`Principal`.

The server (api/app.py, the schema) calls :func:`authenticate` once per request or websocket
connection. A token is looked up by its SHA-256 (api/tokens.py); a token checked once is trusted
for ``api_token_cache_seconds`` so that a busy agent costs no lookup per request, which bounds how
late a revocation or an expiry takes effect. Last use is written at most once a minute per token
(``api_token_touch`` writes only when the stored time is older). The token itself is never logged
or put in an error message: errors say what was wrong with it, not what it was.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from phoenix_board.board import errors
from phoenix_board.board.db import Database
from phoenix_board.api import tokens

KINDS = ("agent", "member", "operator", "reader", "public")
LAST_USE_EVERY_SECONDS = 60.0
_CACHE_MAX = 10_000  # tokens remembered per process; past this the cache starts over


class Unauthenticated(errors.BoardError):
    """No valid API token: send `Authorization: Bearer <token>` (see `phoenix-board tokens create`)."""


@dataclasses.dataclass(frozen=True)
class Principal:
    kind: str  # "agent" | "member" | "operator" | "reader" | "public"
    token_id: int | None
    agent_id: UUID | None = None  # set for agent and member tokens (a member is a row of phoenix.agents)
    codename: str | None = None  # set for agent and member tokens

    def can_write(self) -> bool:
        return self.kind in ("operator", "agent", "member")

    def require(self, *kinds: str) -> None:
        """Refuses (errors.Forbidden) unless this principal is one of ``kinds``."""
        if self.kind not in kinds:
            raise errors.Forbidden(f"a {self.kind} token may not do this (it needs: {' or '.join(kinds)} token)")

    @property
    def holder(self) -> str:
        """What the per-token limits count against."""
        return f"token:{self.token_id}" if self.token_id is not None else "public"


PUBLIC = Principal(kind="public", token_id=None)

_cache: dict[bytes, tuple[Principal, datetime | None, float]] = {}
_cache_lock = threading.Lock()


def bearer(authorization: str | None) -> str | None:
    """The token in an Authorization header value; None when there is no header.
    Raises Unauthenticated for a header that is not a bearer token."""
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    return token.strip()


def authenticate(db: Database, authorization: str | None, settings: Any, now: datetime | None = None) -> Principal:
    """The principal for an ``Authorization`` header value; raises Unauthenticated.
    No header: the public principal if ``settings.api_public_read``, else Unauthenticated."""
    token = bearer(authorization)
    if token is None:
        if getattr(settings, "api_public_read", False):
            return PUBLIC
        raise Unauthenticated("this API needs a token: send `Authorization: Bearer <token>` "
                              "(an operator makes one with `phoenix-board tokens create`)")
    if not tokens.well_formed(token):
        raise Unauthenticated("this is not an API token (they start with pbt_ and have 47 characters)")
    key = tokens.digest(token)
    at = now or datetime.now(timezone.utc)
    ttl = float(getattr(settings, "api_token_cache_seconds", 5.0))
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[2] < ttl and (hit[1] is None or hit[1] > at):
        return hit[0]
    row = db.one("api_token_lookup", digest=key)
    if row is None:
        raise Unauthenticated("unknown API token")
    if row["revoked_at"] is not None:
        raise Unauthenticated(f"API token {row['id']} was revoked")
    if row["expires_at"] is not None and row["expires_at"] <= at:
        raise Unauthenticated(f"API token {row['id']} expired at {row['expires_at']:%Y-%m-%d %H:%M} UTC")
    if row["kind"] == "agent" and row["decommissioned_at"] is not None:
        raise Unauthenticated(f"API token {row['id']} belongs to agent {row['codename']}, which is decommissioned")
    if row["kind"] == "member" and row["decommissioned_at"] is not None:
        raise Unauthenticated(f"API token {row['id']} belongs to member {row['codename']}, who was removed")
    principal = Principal(kind=row["kind"], token_id=row["id"], agent_id=row["agent_id"], codename=row["codename"])
    if row["last_used_at"] is None or (at - row["last_used_at"]).total_seconds() >= LAST_USE_EVERY_SECONDS:
        db.execute("api_token_touch", id=row["id"], now=at, every=LAST_USE_EVERY_SECONDS)
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = (principal, row["expires_at"], time.monotonic())
    return principal


def forget() -> None:
    """Drops every remembered token (tests; a server told of a revocation)."""
    with _cache_lock:
        _cache.clear()
