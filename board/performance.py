"""Performance counters, changed in the transaction of the event (``phoenix.agent_outcome``):

* ``tasks_completed`` and ``tasks_failed`` (every failed attempt: failure, expired lease,
  rejected review, release on decommission);
* ``success_rate = tasks_completed / (tasks_completed + tasks_failed)``;
* ``average_response_time``: running mean of claim-to-completion time over completed tasks,
  ``avg <- avg + (x - avg) / tasks_completed``;
* ``fibonacci_level``: 1 + the number of Fibonacci thresholds 1, 2, 3, 5, 8, 13, ... that
  ``tasks_completed`` has reached (``sql/functions/13_performance.sql``).
"""

from __future__ import annotations

from phoenix_board.board.db import Database


def fibonacci_level(db: Database, completed: int) -> int:
    """The level for a count of completed tasks, from the database's own formula."""
    return db.one("fibonacci_level", completed=completed)["level"]
