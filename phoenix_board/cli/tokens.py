"""`phoenix-board tokens create | list | revoke`: the HTTP API's tokens (api/tokens.py)."""

from __future__ import annotations

from typing import Optional

import typer

from phoenix_board.api import tokens
from phoenix_board.board import errors
from phoenix_board.board.session import open_board
from phoenix_board.cli import render
from phoenix_board.cli.toolkit import settings

tokens_app = typer.Typer(help="API tokens for `phoenix-board serve`: create (shown once), list, revoke.",
                         no_args_is_help=True)


@tokens_app.command("create")
def create_cmd(
    agent: Optional[str] = typer.Option(None, "--agent", help="An agent token: acts only as this agent (codename or id)."),
    member: Optional[str] = typer.Option(None, "--member", help="A member token: a person (members add) who reads, "
                                                                "votes, comments and reviews, and never claims."),
    operator: bool = typer.Option(False, "--operator", help="An operator token: may do what the operator may."),
    reader: bool = typer.Option(False, "--reader", help="A reader token: reads and subscribes, writes nothing."),
    expires: Optional[str] = typer.Option(None, "--expires", help="Lifetime, e.g. 30d, 12h, 2w (default: never)."),
    label: Optional[str] = typer.Option(None, "--label", help="A note to tell tokens apart in `tokens list`."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the token, for scripts: T=$(... -q)."),
) -> None:
    """Make a token and print it once; only its hash is kept, so it cannot be shown again."""
    chosen = [k for k, on in (("agent", agent is not None), ("member", member is not None), ("operator", operator),
                              ("reader", reader)) if on]
    if len(chosen) != 1:
        raise errors.InvalidInput("give exactly one of --agent CODENAME, --member NAME, --operator, --reader")
    with open_board(settings(), max_size=1) as db:
        made = tokens.create(db, chosen[0], agent=agent, member=member, expires=expires, label=label)
    if quiet:
        typer.echo(made.token)
        return
    who = f" for {made.kind} {render.safe(made.codename)}" if made.codename else ""
    until = f", expires {made.expires_at:%Y-%m-%d %H:%M} UTC" if made.expires_at else ""
    render.console.print(f"created {made.kind} token {made.id}{who}{until}")
    typer.echo(made.token)
    render.err_console.print("it is shown only now: keep it where the client reads it (it is stored hashed)")


@tokens_app.command("list")
def list_cmd(
    include_ended: bool = typer.Option(False, "--all", help="Also revoked and expired tokens."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Tokens with their kind, agent, first characters and dates (never the token)."""
    with open_board(settings(), max_size=1, reads_only=True) as db:
        rows = tokens.list_tokens(db, include_ended)
    if as_json:
        typer.echo(render.dumps(rows))
        return
    if not rows:
        render.console.print("no tokens")
        return
    for r in rows:
        state = "revoked" if r["revoked_at"] else "expires " + (f"{r['expires_at']:%Y-%m-%d}" if r["expires_at"] else "never")
        used = f"{r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "never used"
        who = render.safe(r["codename"]) if r["codename"] else "-"
        label = f" {render.safe(r['label'])}" if r["label"] else ""
        render.console.print(f"{r['id']:>5} {r['kind']:<8} {who:<20} {r['hint']}... {state}, last use {used}{label}",
                             soft_wrap=True)


@tokens_app.command("revoke")
def revoke_cmd(token_id: int = typer.Argument(..., help="The token's number from `tokens list`.")) -> None:
    """Revoke a token: servers refuse it within api_token_cache_seconds."""
    with open_board(settings(), max_size=1) as db:
        row = tokens.revoke(db, token_id)
    render.console.print(f"revoked {row['kind']} token {row['id']} ({row['hint']}...)")
