"""`phoenix-board queue`: the queue client on the command line. Submissions, votes and comments
go through the broker to the agents, which apply them; `status` reads the board."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from phoenix_board.board import agents, comments, errors, ids, votes
from phoenix_board.cli import render, submission, toolkit

app = typer.Typer(help="Send submissions, votes and comments through the queue; read status.",
                  no_args_is_help=True)


@app.command("submit")
def queue_submit(
    title: Optional[str] = submission.TitleOpt,
    team: Optional[str] = submission.TeamOpt,
    description: Optional[str] = submission.DescriptionOpt,
    category: Optional[str] = submission.CategoryOpt,
    priority: Optional[int] = submission.PriorityOpt,
    size: Optional[int] = submission.SizeOpt,
    payload: Optional[str] = submission.PayloadOpt,
    depends_on: list[str] = submission.DependsOnOpt,
    deadline: Optional[str] = submission.DeadlineOpt,
    reward: Optional[float] = submission.RewardOpt,
    max_attempts: Optional[int] = submission.MaxAttemptsOpt,
    review_quorum: Optional[int] = submission.ReviewQuorumOpt,
    created_by: Optional[str] = submission.CreatedByOpt,
    key: Optional[str] = submission.KeyOpt,
    needs_person: bool = submission.NeedsPersonOpt,
    file: Optional[Path] = submission.FileOpt,
    at: Optional[str] = submission.AtOpt,
    concurrency_key: Optional[str] = submission.ConcurrencyKeyOpt,
    concurrency_limit: Optional[int] = submission.ConcurrencyLimitOpt,
    count: int = typer.Option(1, "--count", min=1, max=100_000,
                              help="Submit this many copies titled 'TITLE #i' (batched); prints one key a line."),
) -> None:
    """Submit a task through the queue; prints its idempotency key.

    The key is a new UUID unless --key gives one. --depends-on and --created-by are looked up on
    the board; the other fields need only the broker."""
    from phoenix_board.workers.client import Client

    wanted = submission.build(title=title, team=team, description=description, category=category, priority=priority,
                              size=size, payload=payload, depends_on=depends_on, deadline=deadline, reward=reward,
                              max_attempts=max_attempts, review_quorum=review_quorum, created_by=created_by,
                              key=key, file=file, needs_person=needs_person, at=at,
                              concurrency_key=concurrency_key, concurrency_limit=concurrency_limit)
    if count > 1 and wanted.data.get("idempotency_key") is not None:
        raise errors.InvalidInput("--key names one submission; leave it out with --count")
    with Client(toolkit.settings()) as client:
        data = wanted.resolve(client.database()).model_dump(mode="json") if wanted.needs_board else wanted.data
        if count == 1:
            typer.echo(client.submit(data))
        else:
            for made in client.submit_many([{**data, "title": f"{data['title']} #{i}"} for i in range(1, count + 1)]):
                typer.echo(made)
    toolkit.warn_unhandled(wanted.spec.category)


@app.command("vote", context_settings={"ignore_unknown_options": True})
def queue_vote(task: str = typer.Argument(..., help="Task id (the short id tables show will do)."),
               direction: str = typer.Argument(..., help="up, down or retract (also +1, -1, 0)."),
               agent: str = typer.Option(..., "--agent", "-a", help="Voting agent: codename or id."),
               reason: Optional[str] = typer.Option(None, "--reason"),
               wait: float = typer.Option(10.0, "--wait", min=0, help="Seconds to wait for the board to apply it; 0: do not wait.")) -> None:
    """Vote through the queue, then say whether the board applied it."""
    from phoenix_board.workers.client import Client

    value = toolkit.vote_value(direction)
    with Client(toolkit.settings()) as client:
        task_id, who = _known(client, task, agent)
        client.vote(task_id, agent, value, reason)

        def applied() -> bool:
            mine = [v for v in votes.votes_for(client.database(), task_id) if v["codename"] == who.codename]
            return (not mine) if value == 0 else bool(mine and mine[0]["vote"] == value)

        _report(client, applied, wait, f"vote {direction} on {ids.short_one(task_id)} by {who.codename}", who.team)


@app.command("comment")
def queue_comment(task: str = typer.Argument(..., help="Task id (the short id tables show will do)."),
                  content: str = typer.Argument(..., help="The comment."),
                  agent: str = typer.Option(..., "--agent", "-a", help="Commenting agent: codename or id."),
                  reply_to: Optional[str] = typer.Option(None, "--reply-to", help="Parent comment id."),
                  wait: float = typer.Option(10.0, "--wait", min=0, help="Seconds to wait for the board to apply it; 0: do not wait."),
                  key: Optional[str] = typer.Option(None, "--idempotency-key",
                                                    help="The agent's own key: re-sending with it posts the comment once.")) -> None:
    """Comment through the queue, then say whether the board applied it."""
    from phoenix_board.workers.client import Client

    with Client(toolkit.settings()) as client:
        task_id, who = _known(client, task, agent)
        parent = ids.comment(client.database(), reply_to, "--reply-to") if reply_to else None
        before = {c["id"] for c in comments.thread(client.database(), task_id)}
        client.comment(task_id, agent, content, parent, key)

        def applied() -> bool:
            # re-sent with a key: the comment posted the first time is the one this applies to
            return any((c["id"] not in before or key is not None) and c["codename"] == who.codename
                       and c["content"] == content for c in comments.thread(client.database(), task_id))

        _report(client, applied, wait, f"comment on {ids.short_one(task_id)} by {who.codename}", who.team)


def _known(client: Any, task: str, agent: str) -> tuple[Any, Any]:
    """The task and the agent a message names, checked on the board before it is sent, so that a
    typo is refused here in one line instead of by a worker in its log."""
    db = client.database()
    return ids.task(db, task), agents.get(db, agent)


def _report(client: Any, applied: Any, wait: float, what: str, team: str) -> None:
    """Waits (polling the board, the one source of truth) until the message took effect, and says
    so; a worker refuses a message in one line of its own log, which this names."""
    if wait <= 0:
        typer.echo(f"sent: {what}")
        return
    end = time.monotonic() + wait
    while time.monotonic() < end:
        if applied():
            typer.echo(f"applied: {what}")
            return
        time.sleep(0.2)
    raise errors.Unavailable(f"sent, but not applied within {wait:g} s: {what}. Either no worker is running "
                             f"(start `phoenix-board up` or `workers`), or a worker refused it: see the "
                             f"'rejected' line in its log (under `up`: the data directory's logs/workers-{team}.log)")


@app.command("status")
def queue_status(ref: str = typer.Argument(..., help="Task id or idempotency key.")) -> None:
    """The status of a task by id or idempotency key (exit 3 while it is not on the board)."""
    from phoenix_board.workers.client import Client

    with Client(toolkit.settings()) as client:
        task = client.status(ref)
    if task is None:
        typer.echo("not on the board yet")
        raise typer.Exit(3)
    typer.echo(render.dumps(task.model_dump(mode="json")))
