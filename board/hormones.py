"""Hormones: four levels per agent that events push and time pulls back (docs/concepts/hormones.md).

The rules live in SQL, in one file, ``sql/functions/12_hormones.sql``, because they run inside the
transaction of the event that causes them: ``phoenix.hormone_response`` is the one table of which
event moves which hormone by how much (completion, failure, an urgent claim, votes, review
verdicts), ``hormones_add`` clamps, ``hormones_decay`` pulls levels toward the baselines with a
half-life, and ``stress_size_cap`` is what cortisol does to the size of task an agent takes. The
numbers are ``constants.py``'s. This module only starts the beat's decay.
"""

from __future__ import annotations

from datetime import datetime

from phoenix_board.board import constants, errors
from phoenix_board.board.db import Database

# The four hormones, in the seed's order: the one Python list of their names. Everything else in
# Python (the cascade's check, the queue's message, the exporter's `hormone` label, the demo) reads
# it; the database's copy (agents.hormone_levels' default and the SQL formulas) is checked against
# it by tests/unit/test_registries.py.
HORMONES = ("dopamine", "oxytocin", "adrenaline", "cortisol")

BASELINES = dict(zip(HORMONES, (constants.BASELINE_DOPAMINE, constants.BASELINE_OXYTOCIN,
                                constants.BASELINE_ADRENALINE, constants.BASELINE_CORTISOL), strict=True))


def decay_all(db: Database, half_life_seconds: float = constants.HORMONE_HALF_LIFE_SECONDS,
              now: datetime | None = None) -> int:
    """Decays every active agent's hormones up to ``now``; returns how many agents changed."""
    if not half_life_seconds > 0:
        raise errors.InvalidInput(f"half-life must be positive, not {half_life_seconds}")
    return db.one("hormones_decay_all", half_life=float(half_life_seconds), now=now)["n"]
