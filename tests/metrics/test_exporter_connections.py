"""phoenix_db_connections_active counts the board's database's connections: client backends, as
phoenix_db_server_connections does for the whole server. A database also has backends that are no
connection (TimescaleDB's scheduler and its jobs, autovacuum, parallel workers); counted, they made
the board's figure exceed the server's, as it did on every TimescaleDB server while its scheduler
was attached. A parallel worker stands in for them here, on any server."""

from __future__ import annotations

import threading
import urllib.request

import psycopg
from prometheus_client.parser import text_string_to_metric_families

from phoenix_board.board.settings import Settings
from phoenix_board.metrics import exporter
from tests.conftest import free_port, wait_for

COUNT = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
         " AND backend_type = %s")


def _figures(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name in ("phoenix_db_connections_active", "phoenix_db_server_connections")}


def test_a_backend_that_is_no_connection_is_not_counted_as_one(db, url):
    port = free_port()
    server, _ = exporter.serve(db, Settings(redis_url=None), port, "127.0.0.1")
    try:
        with psycopg.connect(url, autocommit=True) as busy, psycopg.connect(url, autocommit=True) as watch:
            # a query that a parallel worker runs while the scrape happens (the setting's name
            # changed in PostgreSQL 16)
            setting = "debug_parallel_query" if busy.info.server_version >= 160000 else "force_parallel_mode"
            busy.execute(f"SET {setting} = on")
            runner = threading.Thread(target=lambda: busy.execute("SELECT pg_sleep(4)"))
            runner.start()
            try:
                wait_for(lambda: watch.execute(COUNT, ("parallel worker",)).fetchone()[0], timeout=10,
                         what="a parallel worker on the board's database")
                before = watch.execute(COUNT, ("client backend",)).fetchone()[0]
                got = _figures(port)
                after = watch.execute(COUNT, ("client backend",)).fetchone()[0]
                assert watch.execute(COUNT, ("parallel worker",)).fetchone()[0]  # still there after the scrape
            finally:
                runner.join()
    finally:
        server.shutdown()
    assert got["phoenix_db_connections_active"] in (before, after)
    assert got["phoenix_db_connections_active"] <= got["phoenix_db_server_connections"]
