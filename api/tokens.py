"""API tokens: made, listed, revoked (docs/api.md). A token is shown once at creation and
stored only as its SHA-256 (why not a slow password hash: sql/migrations/0016_api_tokens.sql)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from phoenix_board.board import agents, errors, members
from phoenix_board.board.db import Database

PREFIX = "pbt_"  # says what a leaked string is (secret scanners match on it)
HINT_CHARS = 8  # random characters shown in lists after the prefix: tells tokens apart, reveals ~48 bits of 256
TOKEN_BYTES = 32
KINDS = ("agent", "member", "operator", "reader")
_SHAPE = re.compile(r"^pbt_[A-Za-z0-9_-]{43}$")
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
MAX_LIFETIME = timedelta(days=3650)


@dataclasses.dataclass(frozen=True)
class Created:
    id: int
    kind: str
    token: str  # the only time it exists outside the holder's hands
    codename: str | None
    expires_at: datetime | None


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def well_formed(token: str) -> bool:
    return bool(_SHAPE.match(token))


def parse_expires(text: str | None, now: datetime | None = None) -> datetime | None:
    """'30d', '12h', '90m', '2w', '3600s' -> the moment; None or 'never' -> no expiry."""
    if text is None or text.strip().lower() == "never":
        return None
    match = _DURATION.match(text)
    if not match:
        raise errors.InvalidInput(f"expires {text!r} is not a duration: use a number and s, m, h, d or w (e.g. 30d)")
    span = timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)])
    if not timedelta(0) < span <= MAX_LIFETIME:
        raise errors.InvalidInput(f"expires {text!r} must be more than 0 and at most 3650d")
    return (now or datetime.now(timezone.utc)) + span


def create(db: Database, kind: str, *, agent: str | None = None, member: str | None = None,
           expires: str | None = None, label: str | None = None, now: datetime | None = None) -> Created:
    """A new token of ``kind``; an agent token needs its agent (codename or id), a member token its
    member (board/members.py: a person, who may read, vote, comment and review, never claim)."""
    if kind not in KINDS:
        raise errors.InvalidInput(f"token kind {kind!r}: use one of {', '.join(KINDS)}")
    if (kind == "agent") != (agent is not None):
        raise errors.InvalidInput("an agent token names its agent (--agent CODENAME); other kinds name none")
    if (kind == "member") != (member is not None):
        raise errors.InvalidInput("a member token names its member (--member NAME); other kinds name none")
    if label is not None and not 1 <= len(label) <= 200:
        raise errors.InvalidInput("label must be 1-200 characters")
    expires_at = parse_expires(expires, now)
    agent_id, codename = None, None
    if agent is not None:
        found = agents.get(db, agent)
        if found.decommissioned_at is not None:
            raise errors.Conflict(f"agent {found.codename} is decommissioned; it gets no token")
        if found.kind != "agent":
            raise errors.InvalidInput(f"{found.codename} is a member, not an agent: use --member {found.codename}")
        agent_id, codename = found.id, found.codename
    if member is not None:
        person = members.get(db, member)
        if person.decommissioned_at is not None:
            raise errors.Conflict(f"member {person.codename} was removed; it gets no token (members add brings it back)")
        agent_id, codename = person.id, person.codename
    token = PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).rstrip(b"=").decode()
    row = db.one("api_token_create", kind=kind, agent_id=agent_id, digest=digest(token),
                 hint=token[: len(PREFIX) + HINT_CHARS], label=label, expires_at=expires_at)
    return Created(id=row["id"], kind=kind, token=token, codename=codename, expires_at=row["expires_at"])


def list_tokens(db: Database, include_ended: bool = False) -> list[dict[str, Any]]:
    """Tokens without their secret: id, kind, agent codename, hint, dates."""
    return db.all("api_token_list", all=include_ended)


def revoke(db: Database, token_id: int, now: datetime | None = None) -> dict[str, Any]:
    row = db.one("api_token_revoke", id=token_id, now=now)
    if row is None:
        found = db.one("api_token_get", id=token_id)
        if found is None:
            raise errors.NotFound(f"token {token_id} not found")
        raise errors.Conflict(f"token {token_id} is already revoked")
    return row
