"""`phoenix-board teams`: list and create teams."""

from __future__ import annotations

import typer

from phoenix_board.board import teams
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, toolkit

app = typer.Typer(help="Teams: list (with their agents and live tasks) and create.", no_args_is_help=True)


@app.command("list")
def teams_list(as_json: bool = toolkit.JsonOpt) -> None:
    """Every team with its agents in service and its tasks not yet ended."""
    with open_board(toolkit.settings(), max_size=1) as db:
        rows = teams.overview(db)
    if as_json:
        toolkit.print_json(rows)
    else:
        render.console.print(render.teams_table(rows))


@app.command("create")
def teams_create(name: str = typer.Argument(..., help="Lowercase letters, digits and _, starting with a letter."),
                 description: str = typer.Option("", "--description", "-d")) -> None:
    """Create a team (agents then join it with `agents register --team`)."""
    with open_board(toolkit.settings(), max_size=1) as db:
        row = teams.create(db, name, description)
    render.console.print(f"created team {row['name']}")
