"""The board's commands: migrate, db, agents, submit, board, show, vote, comment, task, hormones.

Each opens the board (embedded PostgreSQL when no URL is set), does one thing and prints a Rich
table or, with ``--json``, JSON for programs. Errors are BoardErrors, printed by the root handler.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from typing import Any, Optional

import typer

from phoenix_board.board import (
    agents,
    comments,
    constants,
    delegation,
    embedded,
    errors,
    federation,
    hormones,
    ids,
    inputs,
    lifecycle,
    migrate,
    models,
    ranking,
    render,
    teams,
    trust,
    votes,
)
from phoenix_board.board.session import open_board
from phoenix_board.board.settings import Settings

agents_app = typer.Typer(help="Agents: register, list, show (with their tasks), decommission; partners (pair, "
                              "unpair, pairs) and supervisors (supervise, unsupervise).", no_args_is_help=True)
task_app = typer.Typer(help="Move a task through its lifecycle by hand (what agents do).", no_args_is_help=True)
db_app = typer.Typer(help="The embedded PostgreSQL (used when PHOENIX_DATABASE_URL is unset).", no_args_is_help=True)
teams_app = typer.Typer(help="Teams: list (with their agents and live tasks) and create.", no_args_is_help=True)
hormones_app = typer.Typer(help="Agents' hormone levels.", no_args_is_help=True)

# The categories agents of this installation have handlers for, wired in by the root command: the
# handler registry lives in workers, which this module may not import.
handled_categories: Callable[[], list[str]] | None = None

JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print only the new id, for scripts: ID=$(phoenix-board ... -q).")
AgentOpt = typer.Option(..., "--agent", "-a", help="Acting agent: codename or id.")


def settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic's settings error is many lines; keep the first that matters
        raise errors.InvalidInput(f"configuration: {models.describe(exc) if hasattr(exc, 'errors') else exc}") from None


def _print_json(value: Any) -> None:
    typer.echo(render.dumps(value))


def json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.InvalidInput(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:  # the parser recurses per level; the limit would refuse it anyway
        raise errors.InvalidInput(f"{what} nests too deeply (at most {constants.PAYLOAD_DEPTH_MAX} levels)") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise errors.InvalidInput(f"{what} is not valid JSON: {exc}") from None


def vote_value(direction: str) -> int:
    table = {"up": 1, "+1": 1, "1": 1, "down": -1, "-1": -1, "retract": 0, "0": 0}
    if direction not in table:
        raise errors.InvalidInput(f"vote must be up, down, retract, +1, -1 or 0, not {direction[:20]!r}")
    return table[direction]


# --- migrate and db ------------------------------------------------------------------------


def migrate_cmd(status: bool = typer.Option(False, "--status", help="Show applied and pending migrations only."),
                as_json: bool = JsonOpt) -> None:
    """Create or update the board's schema (safe to run from many processes at once)."""
    s = settings()
    with embedded.database_url(s) as url:
        if status:
            found = migrate.status(url, s.role_prefix)
            if as_json:
                _print_json(found)
            else:
                render.console.print(f"applied: {len(found['applied'])} migration(s), the last "
                                     f"{found['applied'][-1] if found['applied'] else '-'}", soft_wrap=True)
                render.console.print(f"pending: {', '.join(found['pending']) or 'none'}; function files to "
                                     f"re-apply: {', '.join(found['functions_pending']) or 'none'}", soft_wrap=True)
            return
        report = migrate.migrate(url, s.role_prefix)
    if report.changed:
        for name in report.migrations:
            render.console.print(f"applied migration {name}")
        render.console.print(f"applied {len(report.functions)} function file(s)")
    else:
        render.console.print("schema is up to date")


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL and leave it running (commands then skip the start-up)."""
    s = settings()
    if s.database_url:
        raise errors.Conflict("PHOENIX_DATABASE_URL is set, so there is no embedded server to start")
    with embedded.database_url(s, keep_running=True) as url:
        migrate.migrate(url, s.role_prefix)
        typer.echo(url)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL."""
    embedded.EmbeddedPostgres(settings().data_dir).stop()


@db_app.command("status")
def db_status() -> None:
    """Whether the embedded PostgreSQL is running, and where its data is."""
    server = embedded.EmbeddedPostgres(settings().data_dir)
    typer.echo(f"{'running' if server.running() else 'stopped'}: {server.pgdata}")


# --- agents --------------------------------------------------------------------------------


@agents_app.command("register")
def agents_register(
    codename: str = typer.Argument(..., help="Stable name; registering it again re-attaches."),
    team: str = typer.Option(..., "--team", "-t"),
    role: str = typer.Option("worker", "--role"),
    specialization: list[str] = typer.Option([], "--specialization", "-s", help="Repeat for several."),
    as_json: bool = JsonOpt,
) -> None:
    """Register an agent (or re-attach to the one with this codename)."""
    with open_board(settings(), max_size=1) as db:
        agent, created = agents.register(db, {"codename": codename, "team": team, "role": role,
                                               "specialization": specialization})
    if as_json:
        _print_json({**agent.model_dump(mode="json"), "created": created})
    else:
        render.console.print(f"{'registered' if created else 're-attached'} {render.safe(agent.codename)} ({agent.id}) on {render.safe(agent.team)}")


@agents_app.command("list")
def agents_list(
    team: Optional[str] = typer.Option(None, "--team", "-t"),
    all_: bool = typer.Option(False, "--all", help="Include decommissioned agents."),
    as_json: bool = JsonOpt,
) -> None:
    """List agents with their hormones, trust and counters."""
    with open_board(settings(), max_size=1, reads_only=True) as db:
        found = agents.list_agents(db, team=team, include_decommissioned=all_)
    if as_json:
        _print_json([a.model_dump(mode="json") for a in found])
    else:
        render.console.print(render.agents_table(found))


@agents_app.command("show")
def agents_show(agent: str = typer.Argument(..., help="Codename or id."), as_json: bool = JsonOpt,
                limit: int = typer.Option(10, "--limit", "-n", min=1, max=1000, help="Recent tasks and trust changes shown.")) -> None:
    """One agent: its recent tasks, partners and supervisor, and the interactions that moved its trust."""
    with open_board(settings(), max_size=1, reads_only=True) as db:
        found = agents.get(db, agent)
        history = trust.history(db, found.id)
        topology = federation.topology(db, found.id)
        recent = agents.tasks_recent(db, found.id, limit)
        counts = agents.task_counts(db, found.id)
    if as_json:
        _print_json({**found.model_dump(mode="json"), **topology, "interactions": history, "tasks": counts,
                     "recent_tasks": recent})
        return
    render.console.print(render.agents_table([found]))
    render.console.print(f"  attempts: claimed {counts['claimed']}, completed {counts['completed']}, "
                         f"failed {counts['failed']}", soft_wrap=True)
    render.console.print(render.agent_tasks_table(recent))
    render.console.print(f"  partners: {', '.join(topology['partners']) or '-'}; supervisor: {topology['supervisor'] or '-'}; "
                         f"subordinates: {', '.join(topology['subordinates']) or '-'}", soft_wrap=True)
    for i in history[:limit]:
        who = i["from_codename"] or "board"
        render.console.print(f"  {i['at']:%H:%M:%S} {i['interaction_type']} from {who}: trust {i['trust_delta']:+.4f}",
                             soft_wrap=True)


@teams_app.command("list")
def teams_list(as_json: bool = JsonOpt) -> None:
    """Every team with its agents in service and its tasks not yet ended."""
    with open_board(settings(), max_size=1) as db:
        rows = teams.overview(db)
    if as_json:
        _print_json(rows)
    else:
        render.console.print(render.teams_table(rows))


@teams_app.command("create")
def teams_create(name: str = typer.Argument(..., help="Lowercase letters, digits and _, starting with a letter."),
                 description: str = typer.Option("", "--description", "-d")) -> None:
    """Create a team (agents then join it with `agents register --team`)."""
    with open_board(settings(), max_size=1) as db:
        row = teams.create(db, name, description)
    render.console.print(f"created team {row['name']}")


@agents_app.command("decommission")
def agents_decommission(agent: str = typer.Argument(..., help="Codename or id.")) -> None:
    """Take an agent out of service; a claim it holds goes back to the board."""
    with open_board(settings(), max_size=1) as db:
        found = agents.decommission(db, agents.resolve(db, agent))
    render.console.print(f"decommissioned {render.safe(found.codename)}")


# --- tasks ---------------------------------------------------------------------------------


def submit(
    title: Optional[str] = typer.Option(None, "--title"),
    team: Optional[str] = typer.Option(None, "--team", "-t"),
    description: Optional[str] = typer.Option(None, "--description", "-d"),
    category: Optional[str] = typer.Option(None, "--category", "-c"),
    priority: Optional[int] = typer.Option(None, "--priority", "-p", help="1 (low) to 10 (high); default 5."),
    size: Optional[int] = typer.Option(None, "--size", help="fibonacci_size: 1, 2, 3, 5, 8, 13 or 21."),
    payload: Optional[str] = typer.Option(None, "--payload", help="JSON object for the handler."),
    depends_on: list[str] = typer.Option([], "--depends-on", help="Task id; repeat for several."),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="+30m, +2h, +1d or ISO 8601 with zone."),
    reward: Optional[float] = typer.Option(None, "--reward", help="dopamine_reward, 0 to 10."),
    max_attempts: Optional[int] = typer.Option(None, "--max-attempts"),
    review_quorum: Optional[int] = typer.Option(None, "--review-quorum", help="Peer verdicts needed; 0: no review."),
    created_by: Optional[str] = typer.Option(None, "--created-by", help="Author agent: codename or id."),
    key: Optional[str] = typer.Option(None, "--key", help="Idempotency key: submitting it again returns the same task."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="JSON file with the task's fields; flags override it."),
    as_json: bool = JsonOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Submit a task to the board."""
    data: dict[str, Any] = {}
    if file is not None:
        try:
            content = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise errors.InvalidInput(f"cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise errors.InvalidInput(f"{file} is not UTF-8: {exc.reason} at byte {exc.start}") from None
        loaded = json_arg(content, str(file))
        if not isinstance(loaded, dict):
            raise errors.InvalidInput(f"{file} must hold one JSON object with the task's fields")
        data.update(file_fields(loaded, str(file)))
    flags = {"title": title, "team": team, "description": description, "category": category, "priority": priority,
             "fibonacci_size": size, "payload": json_arg(payload, "--payload"), "dopamine_reward": reward,
             "max_attempts": max_attempts, "review_quorum": review_quorum, "idempotency_key": key}
    data.update({k: v for k, v in flags.items() if v is not None})
    if deadline is not None:
        data["deadline"] = render.parse_when(deadline)
    author = created_by if created_by is not None else data.pop("created_by", None)
    data.pop("created_by", None)
    spec = models.parse(models.TaskSubmit, data)  # all checks that need no database, before opening it
    with open_board(settings(), max_size=1) as db:
        if depends_on:  # short ids need the board; the model checks the resolved list again
            spec = models.parse(models.TaskSubmit, {**data, "depends_on": [ids.task(db, d, "--depends-on")
                                                                            for d in depends_on]})
        if author is not None:
            spec = spec.model_copy(update={"created_by": agents.resolve(db, author)})
        task, created = lifecycle.submit(db, spec)
        # a quorum the live reviewers cannot meet is accepted (the pool widens later), but said
        shortfall = lifecycle.review_shortfall(db, task) if created else None
    if shortfall is not None:
        typer.echo(f"warning: {shortfall}", err=True)
    warn_unhandled(task.category)
    if quiet:
        typer.echo(ids.short_one(task.id))
    elif as_json:
        _print_json({**task.model_dump(mode="json"), "created": created})
    else:
        render.console.print(f"{'submitted' if created else 'already submitted'} {ids.short_one(task.id)} "
                             f"({render.safe(task.title)}) on {task.team}; full id {task.id}")


def warn_unhandled(category: str) -> None:
    """A warning on stderr when no agent of this installation could run the category: such a task
    fails at once when claimed (docs/operations/running-agents.md, Handlers)."""
    known = handled_categories() if handled_categories is not None else None
    if known is not None and category not in known:
        render.err_console.print(f"warning: no handler for category {render.safe(category)}: an agent that claims it "
                                 f"fails it at once; categories with a handler: {', '.join(known)}", highlight=False, soft_wrap=True)


# A task file may name its fields as the flags do (size, key, reward, depends-on) or as the model
# and the JSON output do (fibonacci_size, idempotency_key, dopamine_reward, depends_on).
FILE_ALIASES = {"size": "fibonacci_size", "key": "idempotency_key", "reward": "dopamine_reward"}


def file_fields(loaded: dict[str, Any], where: str) -> dict[str, Any]:
    """A task file's fields under the model's names; an unknown one is refused, listing the valid."""
    valid = [*models.TaskSubmit.model_fields]
    out: dict[str, Any] = {}
    for name, value in loaded.items():
        field = str(name).replace("-", "_")
        field = FILE_ALIASES.get(field, field)
        if field not in valid:
            raise errors.InvalidInput(f"{where}: unknown field {render.plain(inputs.shown(name))}; valid fields: "
                                      f"{', '.join(valid)} (or as the flags say: {', '.join(FILE_ALIASES)})")
        if field in out:
            raise errors.InvalidInput(f"{where}: field {field} is given twice ({render.plain(inputs.shown(name))})")
        out[field] = value
    return out


def board(
    sort: ranking.Sort = typer.Option(ranking.Sort.HOT, "--sort", "-s"),
    team: Optional[str] = typer.Option(None, "--team", "-t"),
    status: list[models.TaskStatus] = typer.Option([], "--status", help="Repeat for several."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=500),
    cursor: Optional[str] = typer.Option(None, "--cursor", help="The next-page cursor a previous page printed."),
    assignee: Optional[str] = typer.Option(None, "--assignee", help="Only tasks this agent holds or worked last."),
    creator: Optional[str] = typer.Option(None, "--creator", help="Only tasks this agent submitted."),
    as_json: bool = JsonOpt,
) -> None:
    """List the board's tasks in one of Lemmy's sorts, a page at a time."""
    with open_board(settings(), max_size=1, reads_only=True) as db:
        rows, nxt = ranking.page(db, sort, team=team, statuses=[s.value for s in status] or None, limit=limit, cursor=cursor,
                                 assignee=None if assignee is None else agents.resolve(db, assignee),
                                 creator=None if creator is None else agents.resolve(db, creator))
    if as_json:
        _print_json({"tasks": rows, "next_cursor": nxt})
        return
    render.console.print(render.board_table(rows, sort.value))
    if nxt:
        render.console.print(f"next page: --cursor {nxt}")


def show(task: str = typer.Argument(..., help="Task id."), as_json: bool = JsonOpt,
         tree: bool = typer.Option(False, "--tree", help="The task's delegation tree instead.")) -> None:
    """One task with its votes, reviews, comments and history (or, with --tree, its subtasks)."""
    if tree:
        with open_board(settings(), max_size=1, reads_only=True) as db:
            rows = delegation.tree(db, ids.task(db, task))
        if as_json:
            _print_json(rows)
        else:
            render.console.print(render.task_tree(rows))
        return
    with open_board(settings(), max_size=1, reads_only=True) as db:
        task_id = ids.task(db, task)
        found = lifecycle.get(db, task_id)
        parts = (votes.votes_for(db, task_id), votes.reviews_for(db, task_id), comments.thread(db, task_id),
                 lifecycle.events(db, task_id))
    if as_json:
        _print_json({"task": found.model_dump(mode="json"), "votes": parts[0], "reviews": parts[1],
                     "comments": parts[2], "events": parts[3]})
    else:
        render.console.print(render.task_view(found, *parts))


def vote(
    task: str = typer.Argument(..., help="Task id."),
    direction: str = typer.Argument(..., help="up, down or retract (also +1, -1, 0)."),
    agent: str = AgentOpt,
    reason: Optional[str] = typer.Option(None, "--reason"),
    comment: bool = typer.Option(False, "--comment", help="TASK is a comment id: vote on the comment."),
) -> None:
    """Vote on a task (or, with --comment, on a comment)."""
    value = vote_value(direction)
    with open_board(settings(), max_size=1) as db:
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
    agent: str = AgentOpt,
    reply_to: Optional[str] = typer.Option(None, "--reply-to", help="Parent comment id."),
    quiet: bool = QuietOpt,
) -> None:
    """Comment on a task, or reply to a comment."""
    with open_board(settings(), max_size=1) as db:
        task_id = ids.task(db, task)
        parent = ids.comment(db, reply_to, "--reply-to") if reply_to else None
        row = comments.add(db, task_id, agents.resolve(db, agent), content, parent)
    if quiet:
        typer.echo(ids.short_one(row["id"]))
    else:
        render.console.print(f"comment {ids.short_one(row['id'])} on task {ids.short_one(task_id)}")


@task_app.command("claim")
def task_claim(agent: str = AgentOpt, lease: Optional[float] = typer.Option(None, "--lease", help="Seconds."),
               as_json: bool = JsonOpt) -> None:
    """Claim the next task in the claim order for this agent."""
    s = settings()
    with open_board(s, max_size=1) as db:
        # "--lease 0" is a bad lease, not a request for the default
        task = lifecycle.claim(db, agents.resolve(db, agent), s.lease_seconds if lease is None else lease)
    if task is None:
        render.console.print("nothing to claim")
        raise typer.Exit(3)
    if as_json:
        _print_json(task.model_dump(mode="json"))
    else:
        render.console.print(f"claimed {ids.short_one(task.id)} ({render.safe(task.title)}), attempt {task.attempt}, lease until {task.lease_expires_at:%H:%M:%S}")


@task_app.command("cancel")
def task_cancel(task: str, reason: Optional[str] = typer.Option(None, "--reason"),
                agent: Optional[str] = typer.Option(None, "--agent", "-a",
                                                    help="Cancel as this agent (its own tasks); default: as the operator.")) -> None:
    """Cancel a task and all its live subtasks, in one transaction."""
    with open_board(settings(), max_size=1) as db:
        done, n = delegation.cancel(db, ids.task(db, task),
                                    None if agent is None else agents.resolve(db, agent), reason)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}; {n} task(s) cancelled")


@task_app.command("start")
def task_start(task: str, agent: str = AgentOpt, attempt: int = typer.Option(..., "--attempt")) -> None:
    """Mark a claimed task as started."""
    s = settings()
    with open_board(s, max_size=1) as db:
        done = lifecycle.start(db, ids.task(db, task), agents.resolve(db, agent), attempt, s.lease_seconds)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}")


@task_app.command("renew")
def task_renew(task: str, agent: str = AgentOpt, attempt: int = typer.Option(..., "--attempt")) -> None:
    """Renew the lease of a claim."""
    s = settings()
    with open_board(s, max_size=1) as db:
        done = lifecycle.renew(db, ids.task(db, task), agents.resolve(db, agent), attempt, s.lease_seconds)
    render.console.print(f"task {ids.short_one(done.id)}: lease until {done.lease_expires_at:%H:%M:%S}")


@task_app.command("result")
def task_result(
    task: str,
    agent: str = AgentOpt,
    attempt: int = typer.Option(..., "--attempt"),
    output: Optional[str] = typer.Option(None, "--output", help="JSON."),
    quality: Optional[float] = typer.Option(None, "--quality", help="0 to 1."),
) -> None:
    """Submit the result of a claim: the task completes, or goes to review."""
    with open_board(settings(), max_size=1) as db:
        done = lifecycle.result(db, ids.task(db, task), agents.resolve(db, agent), attempt,
                                json_arg(output, "--output"), quality)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}")


@task_app.command("delegate")
def task_delegate(
    task: str,
    agent: str = AgentOpt,
    attempt: int = typer.Option(..., "--attempt"),
    children: str = typer.Option(..., "--children", help='JSON list of tasks: [{"title": ..., "key": ...}, ...].'),
    join: str = typer.Option("all", "--join", help="all, any, or how many children must complete."),
    on_failure: str = typer.Option("fail", "--on-failure", help="fail (cancel the siblings) or ignore."),
) -> None:
    """Split a claimed task into subtasks and wait for them (what a handler's context.delegate does)."""
    how: delegation.Join = int(join) if join.isdigit() else join  # type: ignore[assignment]
    with open_board(settings(), max_size=1) as db:
        parent, kids, new = delegation.delegate(db, ids.task(db, task), agents.resolve(db, agent), attempt,
                                                json_arg(children, "--children"), how, on_failure)  # type: ignore[arg-type]
    render.console.print(f"task {ids.short_one(parent.id)} is {parent.status.value}, waiting for {len(kids)} child(ren) "
                         f"({new} new): " + ", ".join(ids.short(kids).values()))


@task_app.command("fail")
def task_fail(task: str, agent: str = AgentOpt, attempt: int = typer.Option(..., "--attempt"),
              reason: str = typer.Option(..., "--reason")) -> None:
    """Report a failed attempt: the task retries after a backoff, or fails for good."""
    with open_board(settings(), max_size=1) as db:
        done = lifecycle.fail(db, ids.task(db, task), agents.resolve(db, agent), attempt, reason)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}" + (
        f", retry from {done.available_at:%H:%M:%S}" if done.status == models.TaskStatus.OPEN else ""))


@task_app.command("review")
def task_review(task: str, agent: str = AgentOpt,
                verdict: str = typer.Option(..., "--verdict", help="approve or reject."),
                reason: Optional[str] = typer.Option(None, "--reason")) -> None:
    """A peer's verdict on a task in review."""
    value = {"approve": 1, "reject": -1}.get(verdict)
    if value is None:
        raise errors.InvalidInput(f"verdict must be approve or reject, not {verdict[:20]!r}")
    with open_board(settings(), max_size=1) as db:
        done, decided = lifecycle.review(db, ids.task(db, task), agents.resolve(db, agent), value, reason)
    render.console.print(f"task {ids.short_one(done.id)} is {done.status.value}" + (f" ({decided})" if decided else ""))


@task_app.command("release-expired")
def task_release_expired() -> None:
    """Return expired claims to the board (the beat does this periodically)."""
    with open_board(settings(), max_size=1) as db:
        released = lifecycle.release_expired(db)
    render.console.print(f"released {len(released)} expired claim(s)")


@hormones_app.command("decay")
def hormones_decay(half_life: Optional[float] = typer.Option(None, "--half-life", help="Seconds.")) -> None:
    """Decay every agent's hormones toward baseline up to now (the beat does this periodically)."""
    s = settings()
    with open_board(s, max_size=1) as db:
        n = hormones.decay_all(db, s.hormone_half_life_seconds if half_life is None else half_life)
    render.console.print(f"decayed {n} agent(s)")


def mount(app: typer.Typer) -> None:
    """Adds the board's commands to the root command."""
    app.command("migrate")(migrate_cmd)
    app.command("submit")(submit)
    app.command("board")(board)
    app.command("show")(show)
    # a direction of -1 is a value, not an option: unknown "options" go to the arguments
    app.command("vote", context_settings={"ignore_unknown_options": True})(vote)
    app.command("comment")(comment)
    app.add_typer(agents_app, name="agents")
    app.add_typer(teams_app, name="teams")
    app.add_typer(task_app, name="task")
    app.add_typer(hormones_app, name="hormones")
    app.add_typer(db_app, name="db")
    # imported here: these modules import this one
    from phoenix_board.board import audit_commands, bench, federation_commands

    app.add_typer(audit_commands.app, name="audit")

    app.add_typer(bench.app, name="bench")
    federation_commands.mount(app)
