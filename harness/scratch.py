"""What every benchmark and fault run stands on: a scratch database of its own, and progress on stderr.

A benchmark needs a board of a known size and shape and must never write into someone's board, so
each run creates ``phoenix_bench_<random>`` on the server of the configured board (the embedded one
when ``PHOENIX_DATABASE_URL`` is unset), migrates it, and drops it at the end, also on Ctrl-C, unless
asked to keep it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import psycopg
from psycopg import sql as pg_sql
from psycopg.conninfo import make_conninfo
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from phoenix_board.board import migrate
from phoenix_board.board.db import translate
from phoenix_board.harness.queries import queries


class Ui:
    """Progress and phase notes on stderr (stdout carries only the result); silent without a console."""

    def __init__(self, console: Console | None) -> None:
        self.console = console

    def note(self, text: str) -> None:
        if self.console:
            self.console.print(f"[dim]{text}[/dim]")

    @contextlib.contextmanager
    def progress(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        if not self.console:
            yield lambda _n: None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Database errors of statements run on a connection of our own leave as BoardError, as db.py's do."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc) from exc


def _on_server(server_url: str, query: str, database: str) -> None:
    """CREATE / DROP DATABASE: DDL takes no parameters, so the name is composed as an identifier."""
    statement = pg_sql.SQL(queries()[query]).format(database=pg_sql.Identifier(database))
    with translated(), psycopg.connect(server_url, autocommit=True, application_name="phoenix-board bench") as conn:
        conn.execute(statement)


@contextlib.contextmanager
def scratch_database(server_url: str, keep: bool, ui: Ui) -> Iterator[tuple[str, str]]:
    """A new migrated database on the server of ``server_url``, dropped afterwards. -> (name, url)"""
    name = f"phoenix_bench_{uuid.uuid4().hex[:12]}"
    _on_server(server_url, "bench_database_create", name)
    url = make_conninfo(server_url, dbname=name)
    try:
        migrate.migrate(url)
        yield name, url
    finally:
        # also on KeyboardInterrupt: FORCE disconnects threads that are still running a statement
        if keep:
            ui.note(f"kept the scratch database {name}")
        else:
            _on_server(server_url, "bench_database_drop", name)
