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
               role: str | None = None, wait_for_schema: bool = False,
               reads_only: bool = False, create: bool = False) -> Iterator[Database]:
    """With ``role`` (owner, agent or monitor) every connection takes that role (SET ROLE).

    The schema is migrated only by a login that may (``migrate.bring_up_to_date``); long-running
    processes (pools, beat, exporter, relay) pass ``wait_for_schema`` to wait for the migrator
    for ``PHOENIX_SCHEMA_WAIT_SECONDS`` where a command fails at once. With ``reads_only`` the pool
    reads from the replica (``PHOENIX_DATABASE_READ_URL``) when one is set: for commands that write
    nothing; migrations still go to the primary. Without a database URL it finds this data
    directory's running board; only ``create`` (up) may make or start one (see
    ``embedded.database_url``)."""
    with embedded.database_url(settings, keep_running=keep_running, create=create) as url:
        migrate.bring_up_to_date(url, settings.role_prefix, auto=settings.auto_migrate,
                                 wait_seconds=settings.schema_wait_seconds if wait_for_schema else 0.0)
        target = settings.database_read_url if reads_only and settings.database_read_url else url
        with Database(target, min_size=min(settings.pool_min_size, max_size or settings.pool_max_size),
                      max_size=max_size or settings.pool_max_size,
                      role=migrate.role_names(settings.role_prefix)[role] if role else None,
                      pooled=settings.database_pooled) as db:
            yield db


@contextlib.contextmanager
def open_replica(settings: Settings, *, max_size: int = 1, role: str | None = None) -> Iterator[Database | None]:
    """A pool on the replica (``PHOENIX_DATABASE_READ_URL``), or None when none is set; for a
    process that also holds a pool on the primary (the exporter)."""
    if not settings.database_read_url:
        yield None
        return
    with Database(settings.database_read_url, min_size=min(settings.pool_min_size, max_size), max_size=max_size,
                  name="phoenix-board replica",
                  role=migrate.role_names(settings.role_prefix)[role] if role else None) as db:
        yield db
