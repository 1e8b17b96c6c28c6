"""`phoenix-board db`: the embedded PostgreSQL, used when PHOENIX_DATABASE_URL is unset."""

from __future__ import annotations

import typer

from phoenix_board.board import embedded, errors, migrate
from phoenix_board.cli import toolkit

app = typer.Typer(help="The embedded PostgreSQL (used when PHOENIX_DATABASE_URL is unset).", no_args_is_help=True)


@app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL and leave it running (commands then skip the start-up)."""
    s = toolkit.settings()
    if s.database_url:
        raise errors.Conflict("PHOENIX_DATABASE_URL is set, so there is no embedded server to start")
    with embedded.database_url(s, keep_running=True) as url:
        migrate.migrate(url, s.role_prefix)
        typer.echo(url)


@app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL."""
    embedded.EmbeddedPostgres(toolkit.settings().data_dir).stop()


@app.command("status")
def db_status() -> None:
    """Whether the embedded PostgreSQL is running, and where its data is."""
    server = embedded.EmbeddedPostgres(toolkit.settings().data_dir)
    typer.echo(f"{'running' if server.running() else 'stopped'}: {server.pgdata}")
