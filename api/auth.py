"""Who is asking: an API token in ``Authorization: Bearer ...`` becomes a :class:`Principal`.

The contract between the server (app, schema) and the token store (tokens.py). Contract first; the
implementation follows in this same module.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from phoenix_board.board import errors

KINDS = ("agent", "operator", "reader", "public")


class Unauthenticated(errors.BoardError):
    """No valid API token: send `Authorization: Bearer <token>` (see `phoenix-board tokens create`)."""


@dataclasses.dataclass(frozen=True)
class Principal:
    kind: str  # "agent" | "operator" | "reader" | "public"
    token_id: int | None
    agent_id: int | None = None  # set for agent tokens
    codename: str | None = None  # set for agent tokens

    def can_write(self) -> bool:
        return self.kind in ("operator", "agent")

    def require(self, *kinds: str) -> None:
        """Refuses (errors.Forbidden) unless this principal is one of ``kinds``."""
        if self.kind not in kinds:
            raise errors.Forbidden(f"a {self.kind} token may not do this (needs: {' or '.join(kinds)})")


def authenticate(db: Any, authorization: str | None, settings: Any) -> Principal:
    """The principal for an ``Authorization`` header value; raises Unauthenticated."""
    raise Unauthenticated()
