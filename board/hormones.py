"""Hormones: four levels per agent that events push and time pulls back (docs/concepts/hormones.md).

* Each event adds a delta (constants.py): completion -> dopamine x task reward x quality and a
  little cortisol relief; failure (including an expired lease or a rejected review) -> cortisol
  and less dopamine; an upvote on one's task -> oxytocin, a downvote -> cortisol; an approving
  review -> oxytocin, a rejecting one -> cortisol; claiming a task near its deadline ->
  adrenaline, scaled by urgency. Levels are clamped to [HORMONE_MIN, HORMONE_MAX].
* Levels decay exponentially toward the seed's baselines with a configurable half-life:
  ``level(t) = baseline + (level - baseline) * 2 ** (-(t - hormones_at) / half_life)``. The beat
  applies it to every agent (``decay_all``); decay composes, so any tick rate gives the same curve.
* They change behaviour: cortisol caps the size of task an agent claims (``stress_size_cap``):
  below STRESS_CORTISOL_MEDIUM any size; from it, fibonacci_size <= 5; from STRESS_CORTISOL_HIGH,
  <= 2. A stressed agent takes small tasks until it calms down; big ones wait for calmer agents.

The formulas are SQL functions (``sql/functions/12_hormones.sql``) because they run inside the
transaction of the event that causes them; PostgreSQL holds the truth.
"""

from __future__ import annotations

from datetime import datetime

from phoenix_board.board import constants, errors
from phoenix_board.board.db import Database

BASELINES = {
    "dopamine": constants.BASELINE_DOPAMINE,
    "oxytocin": constants.BASELINE_OXYTOCIN,
    "adrenaline": constants.BASELINE_ADRENALINE,
    "cortisol": constants.BASELINE_CORTISOL,
}


def decay_all(db: Database, half_life_seconds: float = constants.HORMONE_HALF_LIFE_SECONDS,
              now: datetime | None = None) -> int:
    """Decays every active agent's hormones up to ``now``; returns how many agents changed."""
    if not half_life_seconds > 0:
        raise errors.InvalidInput(f"half-life must be positive, not {half_life_seconds}")
    return db.one("hormones_decay_all", half_life=float(half_life_seconds), now=now)["n"]
