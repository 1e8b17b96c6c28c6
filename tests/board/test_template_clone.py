"""The suite's per-test databases are clones of a migrated template. On TimescaleDB its scheduler
connects to databases with the extension, and CREATE DATABASE ... TEMPLATE fails while anyone is
connected to the template; the clone must still be made."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import _database, _with_db


@pytest.mark.slow
def test_a_clone_is_made_while_a_session_holds_the_template(server_url, template_db):
    holder = psycopg.connect(_with_db(server_url, template_db), autocommit=True)  # as TimescaleDB's scheduler does
    try:
        with _database(server_url, template_db) as url, psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('phoenix.tasks') IS NOT NULL").fetchone()[0]
    finally:
        holder.close()
    with psycopg.connect(server_url, autocommit=True) as admin:
        assert admin.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (template_db,)).fetchone()[0]
