"""Trust: the beta reputation system (Josang and Ismail, 2002) with forgetting (docs/concepts/trust.md).

Each agent keeps evidence ``r`` (positive) and ``s`` (negative). A rating ``(p, n)`` updates
``r <- lambda*r + p`` and ``s <- lambda*s + n``; trust is the mean of Beta(r+1, s+1),
``(r + 1) / (r + s + 2)``: 0.5 with no evidence, always strictly inside (0, 1), and old evidence
fades by lambda = TRUST_FORGETTING per new rating. Ratings come from:

* the board, on an outcome without review: completion with quality q -> (q, 1 - q) x
  TRUST_OUTCOME_WEIGHT; failure or an expired lease -> (0, 1) x TRUST_OUTCOME_WEIGHT;
* each reviewer, on the work under review: verdict +1 -> (w, 0), -1 -> (0, w), where w is the
  reviewer's own trust, so trusted reviewers weigh more;
* the board, on each reviewer at consensus: agreed with it -> (TRUST_CONSENSUS_WEIGHT, 0),
  disagreed -> (0, TRUST_CONSENSUS_WEIGHT), so rubber-stamping costs reputation.

Every rating writes an ``agent_interactions`` row (who, whom, why, trust delta). The formula is
``sql/functions/14_trust.sql``; it runs in the transaction of the event.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from phoenix_board.board.db import Database


def history(db: Database, agent: UUID, limit: int = 20) -> list[dict[str, Any]]:
    """The latest interactions that changed this agent's trust or hormones, newest first."""
    return db.all("agent_interactions_for", agent=agent, limit=limit)
