"""`phoenix-board schedules`: recurring tasks (docs/concepts/schedules.md): add, list, pause,
resume, run-now, remove. The beat fires them (`phoenix-board beat`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from phoenix_board.board import ids, schedules
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, submission, toolkit

app = typer.Typer(help="Recurring tasks: a cron expression in a time zone, and the task it submits each slot.",
                  no_args_is_help=True)

NameArg = typer.Argument(..., help="The schedule's name: lowercase letters, digits and _.-")


@app.command("add")
def schedules_add(
    name: str = NameArg,
    cron: str = typer.Option(..., "--cron", help='5 fields ("*/5 * * * *") or 6 with seconds first.'),
    task_file: Optional[Path] = typer.Option(None, "--task-file", "-f",
                                             help="JSON file with the task's fields, as `submit --file` reads; "
                                                  "flags override it."),
    timezone: str = typer.Option("UTC", "--timezone", "--tz", help="IANA time zone the cron is read in."),
    catch_up: str = typer.Option("latest", "--catch-up",
                                 help="After downtime: latest (fire the latest missed slot), all (every missed "
                                      "slot, at most 100), none (skip them)."),
    title: Optional[str] = submission.TitleOpt,
    team: Optional[str] = submission.TeamOpt,
    description: Optional[str] = submission.DescriptionOpt,
    category: Optional[str] = submission.CategoryOpt,
    priority: Optional[int] = submission.PriorityOpt,
    size: Optional[int] = submission.SizeOpt,
    payload: Optional[str] = submission.PayloadOpt,
    depends_on: list[str] = submission.DependsOnOpt,
    reward: Optional[float] = submission.RewardOpt,
    max_attempts: Optional[int] = submission.MaxAttemptsOpt,
    review_quorum: Optional[int] = submission.ReviewQuorumOpt,
    created_by: Optional[str] = submission.CreatedByOpt,
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Add a schedule: its task is submitted at every slot of the cron, exactly once per slot."""
    wanted = submission.build(title=title, team=team, description=description, category=category, priority=priority,
                              size=size, payload=payload, depends_on=depends_on, deadline=None, reward=reward,
                              max_attempts=max_attempts, review_quorum=review_quorum, created_by=created_by,
                              key=None, file=task_file)
    schedules.cron(cron, timezone)  # refused before the board is opened, as the task's fields were
    with open_board(toolkit.settings(), max_size=1) as db:
        row = schedules.add(db, name, cron, wanted.resolve(db), timezone, catch_up)
    toolkit.warn_unhandled(row["category"])
    if as_json:
        toolkit.print_json(row)
    else:
        render.console.print(f"added schedule {render.safe(row['name'])}: {render.safe(row['cron'])} "
                             f"({render.safe(row['timezone'])}), next fire {render.safe(str(row['next_fire']))}")


@app.command("list")
def schedules_list(as_json: bool = toolkit.JsonOpt) -> None:
    """Every schedule: its next fire time, the last slot fired, paused or not, the last error."""
    with open_board(toolkit.settings(), max_size=1) as db:
        rows = schedules.list_all(db)
    if as_json:
        toolkit.print_json(rows)
    else:
        render.console.print(render.schedules_table(rows))


@app.command("pause")
def schedules_pause(name: str = NameArg) -> None:
    """Stop firing; the slots that pass while paused are skipped, not caught up."""
    with open_board(toolkit.settings(), max_size=1) as db:
        schedules.pause(db, name)
    render.console.print(f"paused schedule {render.safe(name)}")


@app.command("resume")
def schedules_resume(name: str = NameArg) -> None:
    """Fire again, from the first slot after now."""
    with open_board(toolkit.settings(), max_size=1) as db:
        row = schedules.resume(db, name)
    render.console.print(f"resumed schedule {render.safe(name)}; next fire {render.safe(str(row['next_fire']))}")


@app.command("run-now")
def schedules_run_now(name: str = NameArg,
                      key: str | None = typer.Option(None, "--key", help="An idempotency key: run-now asked again "
                                                     "with it (a retry) submits nothing more and names the first "
                                                     "run's task."),
                      as_json: bool = toolkit.JsonOpt, quiet: bool = toolkit.QuietOpt) -> None:
    """Submit the schedule's task once, now (paused or not); the next slot still fires."""
    with open_board(toolkit.settings(), max_size=1) as db:
        out = schedules.run_now(db, name, key=key)
    if quiet:
        typer.echo(ids.short_one(out["task_id"]))
    elif as_json:
        toolkit.print_json(out)
    elif not out["fired"]:
        render.console.print(f"already run with this key: task {ids.short_one(out['task_id'])} for schedule "
                             f"{render.safe(name)}; full id {out['task_id']}")
    else:
        render.console.print(f"submitted {ids.short_one(out['task_id'])} for schedule {render.safe(name)} on "
                             f"{render.safe(out['team'])}; full id {out['task_id']}")


@app.command("remove")
def schedules_remove(name: str = NameArg) -> None:
    """Delete the schedule (and its record of fired slots); the tasks it submitted stay."""
    with open_board(toolkit.settings(), max_size=1) as db:
        schedules.remove(db, name)
    render.console.print(f"removed schedule {render.safe(name)}")
