"""What every resolver is given: the pools, who is asking, the settings; and the rule for which
agent a call acts for."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import strawberry

from phoenix_board.api import auth
from phoenix_board.api.pools import Pools
from phoenix_board.board import agents, errors

T = TypeVar("T")


@dataclasses.dataclass
class Context:
    pools: Pools
    settings: Any
    principal: auth.Principal
    request: Any = None
    response: Any = None

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A read as this principal: an agent token reads through its agent's row-level security,
        everyone else (a member too: a person follows the whole board) through the read pool."""
        self.principal.require("agent", "member", "operator", "reader", "public")
        agent = self.principal.agent_id if self.principal.kind == "agent" else None
        return await self.pools.run(fn, *args, agent=agent, write=False, **kwargs)

    async def read_shared(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A read of figures every principal may see (teams, consciousness, the dashboard): from
        the read pool, since the agent role is not granted the timeline or the dashboard's view."""
        self.principal.require("agent", "member", "operator", "reader", "public")
        return await self.pools.run(fn, *args, write=False, **kwargs)

    async def write_as(self, named: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(db, agent_id, *args)`` for the agent this call acts for (``acting_agent``)."""
        agent_id, own = await self.acting_agent(named)
        return await self.pools.run(fn, agent_id, *args, agent=agent_id if own else None, **kwargs)

    async def take_part(self, named: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(db, agent_id, *args)`` for what people may do too (vote, comment, review): as
        ``write_as``, and for a member token as its member. A member's call runs on the operator
        pool naming the member, as an operator's call for an agent does: row-level security shows
        an agent only its team's open work, while a person follows and reviews the whole board.
        The token decides the member; the database refuses a member's claims whatever the pool."""
        p = self.principal
        if p.kind != "member":
            return await self.write_as(named, fn, *args, **kwargs)
        own = UUID(str(p.agent_id))
        if named is not None and named not in (str(own), p.codename):
            raise errors.Forbidden(f"this token acts only as member {p.codename}, not as {named}")
        return await self.pools.run(fn, own, *args, **kwargs)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A write as the principal itself (agent pool for an agent token, else the operator's)."""
        self.principal.require("agent", "operator")
        agent = self.principal.agent_id if self.principal.kind == "agent" else None
        return await self.pools.run(fn, *args, agent=agent, **kwargs)

    async def acting_agent(self, named: str | None) -> tuple[UUID, bool]:
        """The agent a call acts for, and whether it is the token's own (then it runs acting as it).

        An agent token acts only as its agent: naming another is FORBIDDEN. An operator token
        names the agent it acts for, as the command line's ``--agent`` does. Readers may not."""
        p = self.principal
        if p.kind == "member":
            raise errors.Forbidden("a member token may read, vote, comment and review; it never claims or acts as an agent")
        p.require("agent", "operator")
        if p.kind == "agent":
            own = UUID(str(p.agent_id))
            if named is not None and named not in (str(own), p.codename):
                raise errors.Forbidden(f"this token acts only as agent {p.codename}, not as {named}")
            return own, True
        if named is None:
            raise errors.InvalidInput("an operator token must name the agent it acts for (agent: codename or id)")
        return await self.pools.run(agents.resolve, named), False


def of(info: strawberry.Info) -> Context:
    return info.context
