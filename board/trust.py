"""Trust: the beta reputation system (Josang and Ismail, 2002) with forgetting (docs/concepts/trust.md).

The whole model is ``sql/functions/14_trust.sql``, run in the transaction of the event that rates:
which event gives how much positive and negative evidence (``phoenix.trust_evidence``), how a
rating updates an agent's evidence with forgetting (``phoenix.trust_update``, the one formula trust
changes by: ``phoenix.trust_rate`` applies it, and ``phoenix.agent_outcome`` and
``phoenix.agent_rated`` apply it in their own update of the agent row, so that a result or a review
verdict writes that row once), and the trust that evidence gives
(``phoenix.trust_value``). The weights are
``constants.py``'s. Every rating writes an ``agent_interactions`` row (who, whom, why, trust delta),
which this module reads.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from phoenix_board.board.db import Database


def history(db: Database, agent: UUID, limit: int = 20) -> list[dict[str, Any]]:
    """The latest interactions that changed this agent's trust or hormones, newest first."""
    return db.all("agent_interactions_for", agent=agent, limit=limit)
