"""`phoenix-board members`: people who take part (board/members.py): add, list, remove, and the tasks
that wait for them. A member signs in to the API with `tokens create --member NAME`."""

from __future__ import annotations

from typing import Optional

import typer

from phoenix_board.board import members
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, toolkit

app = typer.Typer(help="Members: people who vote, comment and review but never claim; add, list, remove, "
                       "and what waits for them.", no_args_is_help=True)


@app.command("add")
def members_add(
    name: str = typer.Argument(..., help="The member's codename (as an agent's: letters, digits, _.:@-)."),
    team: str = typer.Option(..., "--team", "-t"),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Add a member (adding one again returns it; a removed one takes part again)."""
    with open_board(toolkit.settings(), max_size=1) as db:
        member, created = members.add(db, name, team)
    if as_json:
        toolkit.print_json({**member.model_dump(mode="json"), "created": created})
    else:
        render.console.print(f"{'added' if created else 'already a member:'} {render.safe(member.codename)} "
                             f"({member.id}) on {render.safe(member.team)}; a token: phoenix-board tokens create "
                             f"--member {render.safe(member.codename)}")


@app.command("list")
def members_list(
    team: Optional[str] = typer.Option(None, "--team", "-t"),
    all_: bool = typer.Option(False, "--all", help="Include removed members."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """List members with their team and trust."""
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        found = members.list_members(db, team=team, include_removed=all_)
    if as_json:
        toolkit.print_json([m.model_dump(mode="json") for m in found])
    elif not found:
        render.console.print("no members (add one: phoenix-board members add NAME --team TEAM)")
    else:
        render.console.print(render.members_table(found))


@app.command("remove")
def members_remove(name: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Remove a member: its tokens stop working; its votes, comments and verdicts stay."""
    with open_board(toolkit.settings(), max_size=1) as db:
        member = members.remove(db, name)
    render.console.print(f"removed member {render.safe(member.codename)}")


@app.command("waiting")
def members_waiting(
    team: Optional[str] = typer.Option(None, "--team", "-t"),
    limit: int = typer.Option(100, "--limit", "-n", min=1, max=1000),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Tasks in review that ask for a person and have no member's verdict yet, oldest first
    (a member gives one: phoenix-board task review TASK --agent NAME --verdict approve)."""
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        rows = members.waiting(db, team, limit)
    if as_json:
        toolkit.print_json(rows)
    elif not rows:
        render.console.print("no task waits for a person")
    else:
        render.console.print(render.waiting_table(rows))
