"""``phoenix-board tasks``: many tasks at once. ``failures``: failed attempts grouped by reason
(board/console.py), the dead-letter view. By filter (board/retry.py): retry and cancel, each
counting first (``--dry-run`` stops there), asking before it acts (``--yes`` does not ask), then
acting in batches with a progress bar."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from phoenix_board.board import console, errors, retry
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, toolkit

tasks_app = typer.Typer(help="Many tasks at once: failures grouped by reason (the dead-letter view); retry or "
                        "cancel by filter.", no_args_is_help=True)

TeamOpt = typer.Option(None, "--team", help="Only this team's tasks.")
CategoryOpt = typer.Option(None, "--category", help="Only this category.")
StatusOpt = typer.Option(None, "--status", help="Only tasks in this status (repeatable).")
SinceOpt = typer.Option(None, "--since", help="Only tasks that ended (or, unfinished, were created) at or after "
                                              "this time: a duration before now (30m, 1h, 2d) or an ISO 8601 time with its "
                                              "zone, e.g. 2026-12-01T12:00:00Z.")
ReasonLikeOpt = typer.Option(None, "--reason-like", help="Only tasks whose last error matches this pattern "
                                                         "(SQL LIKE, case-insensitive: % any text, _ one character).")
DryRunOpt = typer.Option(False, "--dry-run", help="Count the matching tasks and change nothing.")
YesOpt = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
BatchOpt = typer.Option(100, "--batch", min=1, max=retry.BATCH_MAX, help="Tasks selected per query.")


def _since(text: str | None) -> datetime | None:
    return None if text is None else console.parse_since(text)


def _bulk(action: str, team: str | None, category: str | None, status: list[str] | None, since: str | None,
          reason_like: str | None, reason: str | None, dry_run: bool, yes: bool, batch: int, as_json: bool) -> None:
    flt = retry.parse_filter(action, team=team, category=category, status=status or None, since=_since(since),
                             reason_like=reason_like)
    with open_board(toolkit.settings(), max_size=1) as db:
        matched = retry.count(db, flt)
        if dry_run or matched == 0:
            if as_json:
                toolkit.print_json({"action": action, "matched": matched, "dry_run": dry_run})
            else:
                render.console.print(f"{matched} task(s) would be {'retried' if action == 'retry' else 'cancelled'}"
                                     + ("" if dry_run else "; nothing to do"))
            return
        if not yes and not typer.confirm(f"{action} {matched} task(s)?", err=True):
            raise typer.Exit(1)
        with Progress(TextColumn(action), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=render.err_console, transient=True, disable=as_json) as bar:
            job = bar.add_task(action, total=matched)
            result = retry.run(db, flt, reason, batch=batch, progress=lambda n: bar.advance(job, n))
    if as_json:
        toolkit.print_json({**result.as_json(), "dry_run": False})
        return
    past = "retried" if action == "retry" else "cancelled"
    also = "of their trees and dependents came back" if action == "retry" else "descendants were cancelled with them"
    render.console.print(f"{result.done} of {result.matched} task(s) {past}; {result.also} more {also}; "
                         f"{result.skipped} skipped (moved in between)")
    for line in result.errors:
        render.err_console.print(f"skipped: {render.safe(line)}", highlight=False, soft_wrap=True)


@tasks_app.command("retry")
def tasks_retry(
    team: Optional[str] = TeamOpt, category: Optional[str] = CategoryOpt, status: Optional[list[str]] = StatusOpt,
    since: Optional[str] = SinceOpt, reason_like: Optional[str] = ReasonLikeOpt,
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept in each task's history)."),
    dry_run: bool = DryRunOpt, yes: bool = YesOpt, batch: int = BatchOpt, as_json: bool = toolkit.JsonOpt,
) -> None:
    """Retry the failed (or, with --status cancelled, cancelled) tasks that match; roots only, as
    a tree is retried from its root."""
    _bulk("retry", team, category, status, since, reason_like, reason, dry_run, yes, batch, as_json)


@tasks_app.command("cancel")
def tasks_cancel(
    team: Optional[str] = TeamOpt, category: Optional[str] = CategoryOpt, status: Optional[list[str]] = StatusOpt,
    since: Optional[str] = SinceOpt, reason_like: Optional[str] = ReasonLikeOpt,
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept in each task's history)."),
    dry_run: bool = DryRunOpt, yes: bool = YesOpt, batch: int = BatchOpt, as_json: bool = toolkit.JsonOpt,
) -> None:
    """Cancel the open (or, with --status, claimed, in_progress, review, waiting) tasks that match,
    with their live descendants."""
    _bulk("cancel", team, category, status, since, reason_like, reason, dry_run, yes, batch, as_json)


@tasks_app.command("failures")
def tasks_failures(
    since: str = typer.Option("1h", "--since", help="How far back: 30m, 1h, 2d, 1w (at most 90d), or an ISO 8601 time with its zone."),
    team: Optional[str] = typer.Option(None, "--team", "-t"),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=1000),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Failed attempts grouped by reason, most first: how many, how many failed their task for good,
    which teams, and the latest task to look at (`phoenix-board show TASK`)."""
    start = console.parse_since(since)
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        rows = console.failures(db, start, team, limit)
    if as_json:
        toolkit.print_json({"since": start, "failures": rows})
    elif not rows:
        render.console.print(f"no failures since {start:%Y-%m-%d %H:%M} UTC")
    else:
        render.console.print(render.failures_table(rows, start))
