"""`phoenix-board hormones`: decay every agent's levels, and spread a change through the federation
(docs/concepts/cascades.md)."""

from __future__ import annotations

from typing import Optional

import typer

from phoenix_board.board import federation, hormones
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, toolkit

app = typer.Typer(help="Agents' hormone levels.", no_args_is_help=True)


@app.command("decay")
def hormones_decay(half_life: Optional[float] = typer.Option(None, "--half-life", help="Seconds.")) -> None:
    """Decay every agent's hormones toward baseline up to now (the beat does this periodically)."""
    s = toolkit.settings()
    with open_board(s, max_size=1) as db:
        n = hormones.decay_all(db, s.hormone_half_life_seconds if half_life is None else half_life)
    render.console.print(f"decayed {n} agent(s)")


@app.command("cascade")
def hormones_cascade(
    hormone: str = typer.Option(..., "--hormone", "-H", help="dopamine, oxytocin, adrenaline or cortisol."),
    intensity: float = typer.Option(..., "--intensity", "-x", help="The change at the sources, non-zero, |x| <= 1."),
    team: Optional[str] = typer.Option(None, "--team", "-t", help="Start from every agent of this team."),
    agent: Optional[str] = typer.Option(None, "--agent", "-a", help="Start from this agent."),
    cascade_id: Optional[str] = typer.Option(None, "--id", help="Cascade id; the same id again changes nothing."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Spread a hormone change from a team or an agent to partners, supervisors, subordinates and
    recent collaborators (bounded, attenuated per hop)."""
    with open_board(toolkit.settings(), max_size=1) as db:
        row = federation.cascade(db, hormone, intensity, team=team, agent=agent, cascade_id=cascade_id)
    if as_json:
        toolkit.print_json(row)
    else:
        render.console.print(f"cascade {row['id']}: {row['hormone']} {row['intensity']:+g} reached {row['reached']} agent(s)")
