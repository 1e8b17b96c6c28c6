"""The harness's own named statements (``harness/sql/*.sql``) and the pool that runs them.

They are read by the product's one loader (``db.load_queries``) but kept out of the product's set,
so that no agent, beat or exporter process carries a benchmark's seeding or a fault run's counts.
"""

from __future__ import annotations

import functools
from typing import Any

from phoenix_board.board.db import Database, load_queries


@functools.cache
def queries() -> dict[str, str]:
    """The harness's named statements, by name (statements run on a raw connection use these)."""
    return load_queries("phoenix_board.harness", "sql")


def database(url: str, **options: Any) -> Database:
    """A :class:`Database` that runs the product's named queries and the harness's."""
    return Database(url, extra_queries=queries(), **options)
