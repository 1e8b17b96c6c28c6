"""`phoenix-board flow`: flow control of a team or a category (docs/concepts/flow-control.md):
pause, resume, drain, rate limits, budgets, and what gates hold now; usage reported by results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import typer

from phoenix_board.board import errors, gates
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, toolkit

app = typer.Typer(help="Flow control per team or category: pause, resume, drain, rate limits, budgets, usage.",
                  no_args_is_help=True)

TeamOpt = typer.Option(None, "--team", "-t", help="The team the control applies to.")
CategoryOpt = typer.Option(None, "--category", "-c", help="The category (in every team) the control applies to.")


def _scope(team: Optional[str], category: Optional[str]) -> tuple[str, str]:
    """(kind, scope) from --team or --category: exactly one of them."""
    if (team is None) == (category is None):
        raise errors.InvalidInput("give exactly one of --team or --category")
    return ("team", team) if team is not None else ("category", category)  # type: ignore[return-value]


def _said(row: dict[str, Any], what: str, as_json: bool) -> None:
    if as_json:
        toolkit.print_json(row)
    else:
        render.console.print(f"{row['scope_kind']} {render.safe(row['scope'])}: {what}")


@app.command("pause")
def pause(team: Optional[str] = TeamOpt, category: Optional[str] = CategoryOpt,
          reason: Optional[str] = typer.Option(None, "--reason", help="Shown in status and doctor."),
          as_json: bool = toolkit.JsonOpt) -> None:
    """Stop claims of a team or category, on every pool, from the next claim; work in flight finishes."""
    kind, scope = _scope(team, category)
    with open_board(toolkit.settings(), max_size=1) as db:
        row = gates.pause(db, kind, scope, reason)
    _said(row, "paused (claims stop; work in flight finishes)", as_json)


@app.command("resume")
def resume(team: Optional[str] = TeamOpt, category: Optional[str] = CategoryOpt,
           as_json: bool = toolkit.JsonOpt) -> None:
    """Let claims of a paused team or category go again."""
    kind, scope = _scope(team, category)
    with open_board(toolkit.settings(), max_size=1) as db:
        row = gates.resume(db, kind, scope)
    _said(row, "resumed", as_json)


@app.command("drain")
def drain(team: Optional[str] = TeamOpt, category: Optional[str] = CategoryOpt,
          timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait; exit 1 if work is still in flight."),
          reason: Optional[str] = typer.Option(None, "--reason")) -> None:
    """Pause a team or category, then wait until none of its tasks is claimed or in progress."""
    kind, scope = _scope(team, category)
    last: list[int] = []

    def progress(left: int) -> None:
        if not last or last[-1] != left:
            render.err_console.print(f"{kind} {render.safe(scope)}: {left} task(s) in flight", highlight=False)
        last.append(left)

    with open_board(toolkit.settings(), max_size=1) as db:
        left = gates.drain(db, kind, scope, timeout, reason, progress=progress)
    if left:
        raise errors.Conflict(f"{kind} {scope} is paused but {left} task(s) are still in flight after {timeout:g} s; "
                              "run drain again or wait")
    render.console.print(f"{kind} {render.safe(scope)}: drained (paused, nothing in flight)")


@app.command("rate")
def rate(team: Optional[str] = TeamOpt, category: Optional[str] = CategoryOpt,
         per_minute: Optional[int] = typer.Option(None, "--per-minute", help="Claims per minute; leave out to remove."),
         burst: Optional[int] = typer.Option(None, "--burst", help="Claims that may go back to back; default one second's worth."),
         as_json: bool = toolkit.JsonOpt) -> None:
    """Set (or remove) the rate limit of a team or category, in claims per minute across the fleet."""
    kind, scope = _scope(team, category)
    with open_board(toolkit.settings(), max_size=1) as db:
        row = gates.rate(db, kind, scope, per_minute, burst)
    _said(row, f"{per_minute} claims per minute" if per_minute else "no rate limit", as_json)


@app.command("budget")
def budget(team: Optional[str] = TeamOpt, category: Optional[str] = CategoryOpt,
           hour_cost: Optional[float] = typer.Option(None, "--hour-cost", help="Cost per UTC hour."),
           day_cost: Optional[float] = typer.Option(None, "--day-cost", help="Cost per UTC day."),
           hour_tokens: Optional[int] = typer.Option(None, "--hour-tokens", help="Tokens (in + out) per UTC hour."),
           day_tokens: Optional[int] = typer.Option(None, "--day-tokens", help="Tokens (in + out) per UTC day."),
           as_json: bool = toolkit.JsonOpt) -> None:
    """Set the budgets of a team or category (those left out: none); spent, claims stop until the next window."""
    kind, scope = _scope(team, category)
    with open_board(toolkit.settings(), max_size=1) as db:
        row = gates.budget(db, kind, scope, hour_cost=hour_cost, day_cost=day_cost,
                           hour_tokens=hour_tokens, day_tokens=day_tokens)
    _said(row, "budgets set" if any(v is not None for v in (hour_cost, day_cost, hour_tokens, day_tokens))
          else "no budgets", as_json)


@app.command("status")
def status(team: Optional[str] = TeamOpt, category: Optional[str] = CategoryOpt,
           as_json: bool = toolkit.JsonOpt) -> None:
    """Every gate (or one): paused, rate, budgets and their spend, what holds it back now, work in flight."""
    kind, scope = (None, None) if team is None and category is None else _scope(team, category)
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        rows = gates.status(db, kind, scope)
    if as_json:
        toolkit.print_json(rows)
    elif not rows:
        render.console.print("no flow control configured: every claim goes through")
    else:
        render.console.print(render.gates_table(rows))


@app.command("usage")
def usage(agent: Optional[str] = typer.Option(None, "--agent", "-a", help="One agent: codename or id."),
          since: Optional[str] = typer.Option(None, "--since", help="ISO 8601 with zone; default: ever."),
          as_json: bool = toolkit.JsonOpt) -> None:
    """What results reported spending (tokens, cost), by agent, team and model."""
    from phoenix_board.board import agents

    start: datetime | None = render.parse_when(since) if since is not None else None
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        rows = gates.usage(db, agents.resolve(db, agent) if agent is not None else None, start)
    if as_json:
        toolkit.print_json(rows)
    else:
        render.console.print(render.usage_table(rows))
