"""``phoenix-board audit``: checks the hash chains of the board's history."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from phoenix_board.board import audit
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, toolkit

app = typer.Typer(help="Check that the board's history has not been edited.", no_args_is_help=True)


@app.command("verify")
def verify_cmd(
    as_json: bool = toolkit.JsonOpt,
    batch: int = typer.Option(2000, "--batch", min=1, max=100_000, help="Owners (tasks, agents) per query."),
) -> None:
    """Walk the task_events and agent_interactions chains, from the latest retention checkpoint; exit 1 at a broken link."""
    with open_board(toolkit.settings(), max_size=1) as db:
        total = audit.totals(db)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=render.err_console, transient=True, disable=as_json) as bar:
            bars = {chain: bar.add_task(chain, total=n) for chain, n in total.items()}
            report = audit.verify(db, batch=batch, progress=lambda chain, n: bar.advance(bars[chain], n))
    if as_json:
        toolkit.print_json(report.as_json())
    else:
        for chain in audit.CHAINS:
            render.console.print(f"{chain}: {report.rows[chain]} rows in {report.chains[chain]} chains")
        if report.latest_checkpoint is not None:
            latest = report.latest_checkpoint
            render.console.print(f"pruned history: {report.checkpoints} checkpoint(s); verified from the latest, "
                                 f"#{latest['id']} at {latest['at']} (tasks finished before {latest['cutoff']})")
        if report.ok:
            render.console.print("every link holds")
        else:
            first = report.first
            render.err_console.print(f"broken: {len(report.broken)} link(s); first: {first.describe()}")
    if not report.ok:
        raise typer.Exit(1)
