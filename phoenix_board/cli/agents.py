"""`phoenix-board agents`: register, list, show and decommission agents, and set the federation's
topology: partners (pair, unpair, pairs) and supervisors (supervise)
(docs/concepts/partners.md)."""

from __future__ import annotations

from typing import Optional

import typer

from phoenix_board.board import agents, errors, federation, gates, trust
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, toolkit

app = typer.Typer(help="Agents: register, list, show (with their tasks), decommission; partners (pair, "
                       "unpair, pairs) and supervisors (supervise, supervise --remove).", no_args_is_help=True)


@app.command("register")
def agents_register(
    codename: str = typer.Argument(..., help="Stable name; registering it again re-attaches."),
    team: str = typer.Option(..., "--team", "-t"),
    role: str = typer.Option("worker", "--role"),
    specialization: list[str] = typer.Option([], "--specialization", "-s", help="Repeat for several."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Register an agent (or re-attach to the one with this codename)."""
    with open_board(toolkit.settings(), max_size=1) as db:
        agent, created = agents.register(db, {"codename": codename, "team": team, "role": role,
                                               "specialization": specialization})
    if as_json:
        toolkit.print_json({**agent.model_dump(mode="json"), "created": created})
    else:
        render.console.print(f"{'registered' if created else 're-attached'} {render.safe(agent.codename)} ({agent.id}) on {render.safe(agent.team)}")


@app.command("list")
def agents_list(
    team: Optional[str] = typer.Option(None, "--team", "-t"),
    all_: bool = typer.Option(False, "--all", help="Include decommissioned agents."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """List agents with their hormones, trust and counters."""
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        found = agents.list_agents(db, team=team, include_decommissioned=all_)
    if as_json:
        toolkit.print_json([a.model_dump(mode="json") for a in found])
    else:
        render.console.print(render.agents_table(found))


@app.command("show")
def agents_show(agent: str = typer.Argument(..., help="Codename or id."), as_json: bool = toolkit.JsonOpt,
                limit: int = typer.Option(10, "--limit", "-n", min=1, max=1000, help="Recent tasks and trust changes shown.")) -> None:
    """One agent: its recent tasks, partners and supervisor, and the interactions that moved its trust."""
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        found = agents.get(db, agent)
        history = trust.history(db, found.id)
        topology = federation.topology(db, found.id)
        recent = agents.tasks_recent(db, found.id, limit)
        counts = agents.task_counts(db, found.id)
        spent = gates.usage(db, agent=found.id)  # what its results reported (docs/concepts/flow-control.md)
    if as_json:
        toolkit.print_json({**found.model_dump(mode="json"), **topology, "interactions": history, "tasks": counts,
                     "recent_tasks": recent, "usage": spent})
        return
    render.console.print(render.agents_table([found]))
    render.console.print(f"  attempts: claimed {counts['claimed']}, completed {counts['completed']}, "
                         f"failed {counts['failed']}", soft_wrap=True)
    render.console.print(render.agent_tasks_table(recent))
    if spent:
        render.console.print(render.usage_table(spent))
    render.console.print(f"  partners: {', '.join(topology['partners']) or '-'}; supervisor: {topology['supervisor'] or '-'}; "
                         f"subordinates: {', '.join(topology['subordinates']) or '-'}", soft_wrap=True)
    for i in history[:limit]:
        who = i["from_codename"] or "board"
        render.console.print(f"  {i['at']:%H:%M:%S} {i['interaction_type']} from {who}: trust {i['trust_delta']:+.4f}",
                             soft_wrap=True)


@app.command("decommission")
def agents_decommission(agent: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Take an agent out of service; a claim it holds goes back to the board."""
    with open_board(toolkit.settings(), max_size=1) as db:
        found = agents.decommission(db, agents.resolve(db, agent))
    render.console.print(f"decommissioned {render.safe(found.codename)}")


def _names(rows: list) -> str:  # type: ignore[type-arg]
    return ", ".join(r.codename for r in rows)


@app.command("pair")
def agents_pair(a: str = typer.Argument(..., help="Codename or id."),
                b: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Pair two agents: partners review each other first and share hormone cascades."""
    with open_board(toolkit.settings(), max_size=1) as db:
        rows = federation.pair(db, a, b)
    render.console.print(f"paired {_names(rows)}")


@app.command("unpair")
def agents_unpair(a: str = typer.Argument(..., help="Codename or id."),
                  b: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Undo a pair."""
    with open_board(toolkit.settings(), max_size=1) as db:
        rows = federation.unpair(db, a, b)
    render.console.print(f"unpaired {_names(rows)}")


@app.command("supervise")
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
    with open_board(toolkit.settings(), max_size=1) as db:
        federation.supervise(db, supervisor, subordinate)
    render.console.print(f"{supervisor} now supervises {subordinate}")


def _unsupervise(subordinate: str) -> None:
    with open_board(toolkit.settings(), max_size=1) as db:
        federation.supervise(db, None, subordinate)
    render.console.print(f"{subordinate} has no supervisor now")


# `agents supervise --remove` is the one way to remove a supervisor; this older spelling stays,
# hidden, so that scripts written against it keep working while they are told the new one.
@app.command("unsupervise", hidden=True)
def agents_unsupervise(subordinate: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Remove an agent's supervisor (deprecated: use `agents supervise --remove SUBORDINATE`)."""
    render.err_console.print("warning: `agents unsupervise` is deprecated; use `agents supervise --remove SUBORDINATE`",
                             highlight=False, soft_wrap=True, markup=False)
    _unsupervise(subordinate)


@app.command("pairs")
def agents_pairs(team: Optional[str] = typer.Option(None, "--team", "-t"), as_json: bool = toolkit.JsonOpt) -> None:
    """Partner pairs with their entanglement strength and coherence time (from their shared record)."""
    with open_board(toolkit.settings(), max_size=1) as db:
        found = federation.pairs(db, team)
    if as_json:
        toolkit.print_json(found)
        return
    for p in found:
        render.console.print(f"{p['codename_a']} <-> {p['codename_b']}: entanglement {p['entanglement_strength']:.3f}, "
                             f"coherence {p['coherence_time']}, shared {p['shared']}")
