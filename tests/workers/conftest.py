"""Real Celery worker processes (`phoenix-board workers`) on a real broker (the embedded Valkey of
tests/conftest.py, one per test) and the test's own PostgreSQL database; logins of their own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from phoenix_board.board.settings import Settings
from phoenix_board.workers.client import Client


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[Client]:
    settings = Settings(database_url=env["PHOENIX_DATABASE_URL"], redis_url=env["PHOENIX_REDIS_URL"],
                        queue_prefix=env["PHOENIX_QUEUE_PREFIX"], data_dir=Path(env["PHOENIX_DATA_DIR"]))
    with Client(settings) as c:
        yield c


# Logins of their own on the shared server: roles are global, so every name carries a random
# suffix and is dropped after the test, with whatever it owns.
@pytest.fixture
def logins(server_url: str) -> Iterator[Callable[..., str]]:
    """make(kind, options, member_of=None, url=...) creates a login and returns its URL; dropped after."""
    admin_url = make_conninfo(server_url, dbname=conninfo_to_dict(server_url).get("dbname") or "postgres")
    made: list[str] = []

    def make(kind: str, options: str = "", member_of: str | None = None, url: str = server_url) -> str:
        name = f"pbh_{kind}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {name} LOGIN {options}" + (f" IN ROLE {member_of}" if member_of else ""))
        made.append(name)
        return make_conninfo(url, user=name)

    try:
        yield make
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            for name in reversed(made):
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f"DROP ROLE IF EXISTS {name}")
