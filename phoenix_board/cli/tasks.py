"""The task commands: submit, board, show, vote, comment, and the `task` group that moves a task
through its lifecycle by hand.

Each opens the board (embedded PostgreSQL when no URL is set), does one thing and prints a Rich
table or, with ``--json``, JSON for programs. Errors are BoardErrors, printed by the root handler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from phoenix_board.board import (agents, comments, delegation, errors, ids, lifecycle, members, models, ranking,
                                 retry, votes)
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, submission, toolkit

task_app = typer.Typer(help="Move a task through its lifecycle by hand (what agents do).", no_args_is_help=True)


def submit(
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
    as_json: bool = toolkit.JsonOpt,
    quiet: bool = toolkit.QuietOpt,
) -> None:
    """Submit a task to the board."""
    wanted = submission.build(title=title, team=team, description=description, category=category, priority=priority,
                              size=size, payload=payload, depends_on=depends_on, deadline=deadline, reward=reward,
                              max_attempts=max_attempts, review_quorum=review_quorum, created_by=created_by,
                              key=key, file=file, needs_person=needs_person, at=at,
                              concurrency_key=concurrency_key, concurrency_limit=concurrency_limit)
    with open_board(toolkit.settings(), max_size=1) as db:
        task, created = lifecycle.submit(db, wanted.resolve(db))
        # a quorum the live reviewers cannot meet is accepted (the pool widens later), but said
        shortfall = lifecycle.review_shortfall(db, task) if created else None
        if created and task.needs_person and not members.list_members(db, limit=1):
            shortfall = (f"task {ids.short_one(task.id)} asks for a person's verdict but the board has no member; "
                         f"add one: phoenix-board members add NAME --team {task.team}")
    if shortfall is not None:
        typer.echo(f"warning: {shortfall}", err=True)
    toolkit.warn_unhandled(task.category)
    if quiet:
        typer.echo(ids.short_one(task.id))
    elif as_json:
        toolkit.print_json({**task.model_dump(mode="json"), "created": created})
    else:
        render.console.print(f"{'submitted' if created else 'already submitted'} {ids.short_one(task.id)} "
                             f"({render.safe(task.title)}) on {task.team}; full id {task.id}")


def board(
    sort: ranking.Sort = typer.Option(ranking.Sort.HOT, "--sort", "-s"),
    team: Optional[str] = typer.Option(None, "--team", "-t"),
    status: list[models.TaskStatus] = typer.Option([], "--status", help="Repeat for several."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=500),
    cursor: Optional[str] = typer.Option(None, "--cursor", help="The next-page cursor a previous page printed."),
    assignee: Optional[str] = typer.Option(None, "--assignee", help="Only tasks this agent holds or worked last."),
    creator: Optional[str] = typer.Option(None, "--creator", help="Only tasks this agent submitted."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """List the board's tasks in one of Lemmy's sorts, a page at a time."""
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        rows, nxt = ranking.page(db, sort, team=team, statuses=[s.value for s in status] or None, limit=limit, cursor=cursor,
                                 assignee=None if assignee is None else agents.resolve(db, assignee),
                                 creator=None if creator is None else agents.resolve(db, creator))
    if as_json:
        toolkit.print_json({"tasks": rows, "next_cursor": nxt})
        return
    render.console.print(render.board_table(rows, sort.value))
    if nxt:
        render.console.print(f"next page: --cursor {nxt}")


def show(task: str = typer.Argument(..., help="Task id."), as_json: bool = toolkit.JsonOpt,
         tree: bool = typer.Option(False, "--tree", help="The task's delegation tree instead.")) -> None:
    """One task with its votes, reviews, comments and history (or, with --tree, its subtasks)."""
    if tree:
        with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
            rows = delegation.tree(db, ids.task(db, task))
        if as_json:
            toolkit.print_json(rows)
        else:
            render.console.print(render.task_tree(rows))
        return
    with open_board(toolkit.settings(), max_size=1, reads_only=True) as db:
        task_id = ids.task(db, task)
        found = lifecycle.get(db, task_id)
        parts = (votes.votes_for(db, task_id), votes.reviews_for(db, task_id), comments.thread(db, task_id),
                 lifecycle.events(db, task_id))
    if as_json:
        toolkit.print_json({"task": found.model_dump(mode="json"), "votes": parts[0], "reviews": parts[1],
                     "comments": parts[2], "events": parts[3]})
    else:
        render.console.print(render.task_view(found, *parts))


def vote(
    task: str = typer.Argument(..., help="Task id."),
    direction: str = typer.Argument(..., help="up, down or retract (also +1, -1, 0)."),
    agent: str = toolkit.AgentOpt,
    reason: Optional[str] = typer.Option(None, "--reason"),
    comment: bool = typer.Option(False, "--comment", help="TASK is a comment id: vote on the comment."),
) -> None:
    """Vote on a task (or, with --comment, on a comment)."""
    value = toolkit.vote_value(direction)
    with open_board(toolkit.settings(), max_size=1) as db:
        target = ids.comment(db, task) if comment else ids.task(db, task)
        who = agents.resolve(db, agent)
        if comment:
            row = votes.comment_vote(db, target, who, value)
        else:
            row = votes.vote(db, target, who, value, reason)
    render.console.print(f"{'comment' if comment else 'task'} {ids.short_one(row['id'])}: +{row['upvotes']} -{row['downvotes']}")


def comment(
    task: str = typer.Argument(..., help="Task id."),
    content: str = typer.Argument(..., help="The comment."),
    agent: str = toolkit.AgentOpt,
    reply_to: Optional[str] = typer.Option(None, "--reply-to", help="Parent comment id."),
    quiet: bool = toolkit.QuietOpt,
    key: Optional[str] = typer.Option(None, "--idempotency-key",
                                      help="The agent's own key: a retry with it posts the comment once."),
) -> None:
    """Comment on a task, or reply to a comment."""
    with open_board(toolkit.settings(), max_size=1) as db:
        task_id = ids.task(db, task)
        parent = ids.comment(db, reply_to, "--reply-to") if reply_to else None
        row = comments.add(db, task_id, agents.resolve(db, agent), content, parent, idempotency_key=key)
    if quiet:
        typer.echo(ids.short_one(row["id"]))
    else:
        render.console.print(f"comment {ids.short_one(row['id'])} on task {ids.short_one(task_id)}")


@task_app.command("claim")
def task_claim(agent: str = toolkit.AgentOpt, lease: Optional[float] = typer.Option(None, "--lease", help="Seconds."),
               as_json: bool = toolkit.JsonOpt) -> None:
    """Claim the next task in the claim order for this agent."""
    s = toolkit.settings()
    with open_board(s, max_size=1) as db:
        # "--lease 0" is a bad lease, not a request for the default
        task = lifecycle.claim(db, agents.resolve(db, agent), s.lease_seconds if lease is None else lease)
    if task is None:
        render.console.print("nothing to claim")
        raise typer.Exit(3)
    if as_json:
        toolkit.print_json(task.model_dump(mode="json"))
    else:
        render.console.print(f"claimed {ids.short_one(task.id)} ({render.safe(task.title)}), attempt {task.attempt}, lease until {task.lease_expires_at:%H:%M:%S}")


@task_app.command("cancel")
def task_cancel(task: str, reason: Optional[str] = typer.Option(None, "--reason"),
                agent: Optional[str] = typer.Option(None, "--agent", "-a",
                                                    help="Cancel as this agent (its own tasks); default: as the operator.")) -> None:
    """Cancel a task and all its live subtasks, in one transaction."""
    with open_board(toolkit.settings(), max_size=1) as db:
        done, n = delegation.cancel(db, ids.task(db, task),
                                    None if agent is None else agents.resolve(db, agent), reason)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}; {n} task(s) cancelled")


@task_app.command("retry")
def task_retry(task: str, reason: Optional[str] = typer.Option(None, "--reason", help="Why (kept in the task's history)."),
               as_json: bool = toolkit.JsonOpt) -> None:
    """Put a failed or cancelled task back on the board with a fresh attempt budget (its tree's failed
    tasks and the dependents that failed because of it come back too)."""
    with open_board(toolkit.settings(), max_size=1) as db:
        done, back, revived = retry.retry(db, ids.task(db, task), reason)
    if as_json:
        toolkit.print_json({**done.model_dump(mode="json"), "retried": back, "revived": revived})
    else:
        render.console.print(f"task {ids.short_one(done.id)} is {done.status.value} again with {done.max_attempts} fresh "
                             f"attempt(s); {back - 1} more of its tree and {revived} dependent(s) came back")


@task_app.command("start")
def task_start(task: str, agent: str = toolkit.AgentOpt, attempt: int = typer.Option(..., "--attempt")) -> None:
    """Mark a claimed task as started."""
    s = toolkit.settings()
    with open_board(s, max_size=1) as db:
        done = lifecycle.start(db, ids.task(db, task), agents.resolve(db, agent), attempt, s.lease_seconds)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}")


@task_app.command("renew")
def task_renew(task: str, agent: str = toolkit.AgentOpt, attempt: int = typer.Option(..., "--attempt")) -> None:
    """Renew the lease of a claim."""
    s = toolkit.settings()
    with open_board(s, max_size=1) as db:
        done = lifecycle.renew(db, ids.task(db, task), agents.resolve(db, agent), attempt, s.lease_seconds)
    render.console.print(f"task {ids.short_one(done.id)}: lease until {done.lease_expires_at:%H:%M:%S}")


@task_app.command("result")
def task_result(
    task: str,
    agent: str = toolkit.AgentOpt,
    attempt: int = typer.Option(..., "--attempt"),
    output: Optional[str] = typer.Option(None, "--output", help="JSON."),
    quality: Optional[float] = typer.Option(None, "--quality", help="0 to 1."),
) -> None:
    """Submit the result of a claim: the task completes, or goes to review."""
    with open_board(toolkit.settings(), max_size=1) as db:
        done = lifecycle.result(db, ids.task(db, task), agents.resolve(db, agent), attempt,
                                toolkit.json_arg(output, "--output"), quality)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}")


@task_app.command("delegate")
def task_delegate(
    task: str,
    agent: str = toolkit.AgentOpt,
    attempt: int = typer.Option(..., "--attempt"),
    children: str = typer.Option(..., "--children", help='JSON list of tasks: [{"title": ..., "key": ...}, ...].'),
    join: str = typer.Option("all", "--join", help="all, any, or how many children must complete."),
    on_failure: str = typer.Option("fail", "--on-failure", help="fail (cancel the siblings) or ignore."),
) -> None:
    """Split a claimed task into subtasks and wait for them (what a handler's context.delegate does)."""
    how: delegation.Join = int(join) if join.isdigit() else join  # type: ignore[assignment]
    with open_board(toolkit.settings(), max_size=1) as db:
        parent, kids, new = delegation.delegate(db, ids.task(db, task), agents.resolve(db, agent), attempt,
                                                toolkit.json_arg(children, "--children"), how, on_failure)  # type: ignore[arg-type]
    render.console.print(f"task {ids.short_one(parent.id)} is {parent.status.value}, waiting for {len(kids)} child(ren) "
                         f"({new} new): " + ", ".join(ids.short(kids).values()))


@task_app.command("fail")
def task_fail(task: str, agent: str = toolkit.AgentOpt, attempt: int = typer.Option(..., "--attempt"),
              reason: str = typer.Option(..., "--reason")) -> None:
    """Report a failed attempt: the task retries after a backoff, or fails for good."""
    with open_board(toolkit.settings(), max_size=1) as db:
        done = lifecycle.fail(db, ids.task(db, task), agents.resolve(db, agent), attempt, reason)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}" + (
        f", retry from {done.available_at:%H:%M:%S}" if done.status == models.TaskStatus.OPEN else ""))


@task_app.command("review")
def task_review(task: str, agent: str = toolkit.AgentOpt,
                verdict: str = typer.Option(..., "--verdict", help="approve or reject."),
                reason: Optional[str] = typer.Option(None, "--reason")) -> None:
    """A peer's verdict on a task in review; --agent may name a member (a person: any task in review
    but one it submitted, no place claimed)."""
    value = {"approve": 1, "reject": -1}.get(verdict)
    if value is None:
        raise errors.InvalidInput(f"verdict must be approve or reject, not {verdict[:20]!r}")
    with open_board(toolkit.settings(), max_size=1) as db:
        done, decided = lifecycle.review(db, ids.task(db, task), agents.resolve(db, agent), value, reason)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}" + (f" ({decided})" if decided else ""))


@task_app.command("release-expired")
def task_release_expired() -> None:
    """Return expired claims to the board (the beat does this periodically)."""
    with open_board(toolkit.settings(), max_size=1) as db:
        released = lifecycle.release_expired(db)
    render.console.print(f"released {len(released)} expired claim(s)")

