"""Opening the board from a command: settings, the database (embedded when no URL is set), the
schema brought up to date, and a pool. Shared by every part's commands."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from phoenix_board.board import embedded, migrate
from phoenix_board.board.db import Database
from phoenix_board.board.settings import Settings


@contextlib.contextmanager
def open_board(settings: Settings, *, max_size: int | None = None, keep_running: bool = False,
               role: str | None = None, create: bool = False) -> Iterator[Database]:
    """With ``role`` (owner, agent or monitor) every connection takes that role (SET ROLE).
    Without a database URL it finds this data directory's running board; only ``create`` (up)
    may make or start one (see ``embedded.database_url``)."""
    with embedded.database_url(settings, keep_running=keep_running, create=create) as url:
        if settings.auto_migrate:
            migrate.migrate(url, settings.role_prefix)
        with Database(url, min_size=min(settings.pool_min_size, max_size or settings.pool_max_size),
                      max_size=max_size or settings.pool_max_size,
                      role=migrate.role_names(settings.role_prefix)[role] if role else None) as db:
            yield db
