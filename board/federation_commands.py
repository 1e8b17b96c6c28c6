"""The federation's commands: ``agents pair|unpair|supervise|unsupervise|pairs`` and
``hormones cascade`` (docs/concepts/partners.md, docs/concepts/cascades.md). They join the
board's ``agents`` and ``hormones`` groups."""

from __future__ import annotations

from typing import Optional

import typer

from phoenix_board.board import commands, errors, federation, render
from phoenix_board.board.session import open_board

JsonOpt = commands.JsonOpt


def _names(rows: list) -> str:  # type: ignore[type-arg]
    return ", ".join(r.codename for r in rows)


def agents_pair(a: str = typer.Argument(..., help="Codename or id."),
                b: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Pair two agents: partners review each other first and share hormone cascades."""
    with open_board(commands.settings(), max_size=1) as db:
        rows = federation.pair(db, a, b)
    render.console.print(f"paired {_names(rows)}")


def agents_unpair(a: str = typer.Argument(..., help="Codename or id."),
                  b: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Undo a pair."""
    with open_board(commands.settings(), max_size=1) as db:
        rows = federation.unpair(db, a, b)
    render.console.print(f"unpaired {_names(rows)}")


def agents_supervise(
    supervisor: Optional[str] = typer.Argument(None, help="Codename or id of the supervisor (omit with --remove)."),
    subordinate: Optional[str] = typer.Argument(None, help="Codename or id of the subordinate."),
    remove: bool = typer.Option(False, "--remove", help="Remove SUBORDINATE's supervisor (give only the subordinate)."),
) -> None:
    """Make SUPERVISOR the supervisor of SUBORDINATE (a cycle is refused), or --remove it."""
    if remove:
        target = subordinate or supervisor
        if target is None or (subordinate is not None and supervisor is not None):
            raise errors.InvalidInput("with --remove give only the subordinate")
        _unsupervise(target)
        return
    if supervisor is None or subordinate is None:
        raise errors.InvalidInput("give a supervisor and a subordinate (or --remove SUBORDINATE)")
    with open_board(commands.settings(), max_size=1) as db:
        federation.supervise(db, supervisor, subordinate)
    render.console.print(f"{supervisor} now supervises {subordinate}")


def _unsupervise(subordinate: str) -> None:
    with open_board(commands.settings(), max_size=1) as db:
        federation.supervise(db, None, subordinate)
    render.console.print(f"{subordinate} has no supervisor now")


def agents_unsupervise(subordinate: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Remove an agent's supervisor."""
    _unsupervise(subordinate)


def agents_pairs(team: Optional[str] = typer.Option(None, "--team", "-t"), as_json: bool = JsonOpt) -> None:
    """Partner pairs with their entanglement strength and coherence time (from their shared record)."""
    with open_board(commands.settings(), max_size=1) as db:
        found = federation.pairs(db, team)
    if as_json:
        commands._print_json(found)
        return
    for p in found:
        render.console.print(f"{p['codename_a']} <-> {p['codename_b']}: entanglement {p['entanglement_strength']:.3f}, "
                             f"coherence {p['coherence_time']}, shared {p['shared']}")


def hormones_cascade(
    hormone: str = typer.Option(..., "--hormone", "-H", help="dopamine, oxytocin, adrenaline or cortisol."),
    intensity: float = typer.Option(..., "--intensity", "-x", help="The change at the sources, non-zero, |x| <= 1."),
    team: Optional[str] = typer.Option(None, "--team", "-t", help="Start from every agent of this team."),
    agent: Optional[str] = typer.Option(None, "--agent", "-a", help="Start from this agent."),
    cascade_id: Optional[str] = typer.Option(None, "--id", help="Cascade id; the same id again changes nothing."),
    as_json: bool = JsonOpt,
) -> None:
    """Spread a hormone change from a team or an agent to partners, supervisors, subordinates and
    recent collaborators (bounded, attenuated per hop)."""
    with open_board(commands.settings(), max_size=1) as db:
        row = federation.cascade(db, hormone, intensity, team=team, agent=agent, cascade_id=cascade_id)
    if as_json:
        commands._print_json(row)
    else:
        render.console.print(f"cascade {row['id']}: {row['hormone']} {row['intensity']:+g} reached {row['reached']} agent(s)")


def mount(app: typer.Typer) -> None:
    """Adds these commands to the board's agents and hormones groups (``app`` is the root)."""
    commands.agents_app.command("pair")(agents_pair)
    commands.agents_app.command("unpair")(agents_unpair)
    commands.agents_app.command("supervise")(agents_supervise)
    commands.agents_app.command("unsupervise")(agents_unsupervise)
    commands.agents_app.command("pairs")(agents_pairs)
    commands.hormones_app.command("cascade")(hormones_cascade)
