"""`phoenix-board workers` (an agent pool), `phoenix-board up` (everything on one machine) and
`phoenix-board queue ...` (the queue client on the command line)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from typing import Any, Optional

import typer

from phoenix_board.board import agents, comments, errors, ids, models, render, votes
from phoenix_board.board.commands import json_arg, settings, vote_value, warn_unhandled
from phoenix_board.board.session import open_board
from phoenix_board.workers import broker, identity, logins, runstate, signals
from phoenix_board.workers.app import make_app

queue_app = typer.Typer(help="Send submissions, votes and comments through the queue; read status.",
                        no_args_is_help=True)


def workers(
    team: str = typer.Option(..., "--team", "-t", help="The team these agents work for."),
    agents_n: int = typer.Option(4, "--agents", "-n", min=1, max=256, help="Pool processes, one agent each."),
    name: Optional[str] = typer.Option(None, "--name", help="Codename prefix; agents are PREFIX-<pool index>."),
    specialization: list[str] = typer.Option([], "--specialization", "-s", help="Categories these agents assess."),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l"),
    metrics_port: Optional[int] = typer.Option(
        None, "--metrics-port",
        help="Serve these agents' own metrics on all addresses at this port; 0: not at all. "
             "Default PHOENIX_WORKER_METRICS_PORT (9465)."),
) -> None:
    """Start a Celery worker whose pool processes are this team's agents."""
    s = settings()
    if s.agent_database_url and s.agent_database_url != s.database_url:
        logins.exec_as_agents(s.agent_database_url)  # does not return: the owner's URL leaves the process
    port = s.worker_metrics_port if metrics_port is None else metrics_port
    if port:
        from phoenix_board.metrics import worker as worker_metrics

        if not worker_metrics.enabled():
            worker_metrics.use_private_directory(str(s.data_dir.resolve() / "worker-metrics"))
        try:
            worker_metrics.serve(port)
        except OSError as exc:
            if metrics_port is not None:  # asked for explicitly: refuse to run without it
                raise errors.Unavailable(f"cannot listen on port {port}: {exc.strerror}") from None
            render.console.print(f"warning: agents' metrics not served: port {port} is taken ({exc.strerror}); "
                                 "give this pool another with --metrics-port", style="yellow")
    prefix = name or f"{team}.{socket.gethostname()}"
    models.parse(models.AgentRegister, {"codename": f"{prefix}-0", "team": team, "specialization": specialization})
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(open_board(s, max_size=1, wait_for_schema=True))
        if not db.one("team_exists", team=team)["found"]:
            raise errors.NotFound(f"team {team} not found; teams: {', '.join(t['name'] for t in db.all('teams_list'))}")
        logins.warn_if_not_contained(db.url, s.role_prefix)
        # one live process per agent: a free prefix and this pool's holder token (workers/identity.py)
        me = identity.choose(db, s.data_dir, prefix, agents_n, named=name is not None)
        stack.callback(me.lock.close)
        url = stack.enter_context(broker.broker_url(s))
        os.environ.update({
            signals.ENV_TEAM: team,
            signals.ENV_PREFIX: me.prefix,
            signals.ENV_HOLDER: str(me.holder),
            signals.ENV_SPECIALIZATION: json.dumps(specialization),
            signals.ENV_DATABASE: db.url,
            "PHOENIX_REDIS_URL": url,
        })
        app = make_app(url, s)
        app.steps["worker"].add(signals.IdlePoller)
        app.worker_main([
            "worker", "--pool", "prefork", "--concurrency", str(agents_n),
            "--queues", f"{s.team_queue(team)},{s.board_queue()}",
            "--hostname", f"{me.prefix}@%h", "--loglevel", loglevel,
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ])


@queue_app.command("submit")
def queue_submit(
    title: str = typer.Option(..., "--title"),
    team: str = typer.Option(..., "--team", "-t"),
    category: str = typer.Option("general", "--category", "-c"),
    priority: int = typer.Option(5, "--priority", "-p"),
    payload: Optional[str] = typer.Option(None, "--payload", help="JSON object."),
    key: Optional[str] = typer.Option(None, "--key", help="Idempotency key (a new UUID if not given)."),
    review_quorum: int = typer.Option(0, "--review-quorum"),
    count: int = typer.Option(1, "--count", min=1, max=100_000,
                              help="Submit this many copies titled 'TITLE #i' (batched); prints one key a line."),
) -> None:
    """Submit a task through the queue; prints its idempotency key."""
    from phoenix_board.workers.client import Client

    data: dict[str, Any] = {"title": title, "team": team, "category": category, "priority": priority,
                            "payload": json_arg(payload, "--payload") or {}, "review_quorum": review_quorum}
    if count > 1 and key is not None:
        raise errors.InvalidInput("--key names one submission; leave it out with --count")
    with Client(settings()) as client:
        if count == 1:
            typer.echo(client.submit(data, key))
        else:
            for made in client.submit_many([{**data, "title": f"{title} #{i}"} for i in range(1, count + 1)]):
                typer.echo(made)
    warn_unhandled(category)


@queue_app.command("vote", context_settings={"ignore_unknown_options": True})
def queue_vote(task: str = typer.Argument(..., help="Task id (the short id tables show will do)."),
               direction: str = typer.Argument(..., help="up, down or retract (also +1, -1, 0)."),
               agent: str = typer.Option(..., "--agent", "-a", help="Voting agent: codename or id."),
               reason: Optional[str] = typer.Option(None, "--reason"),
               wait: float = typer.Option(10.0, "--wait", min=0, help="Seconds to wait for the board to apply it; 0: do not wait.")) -> None:
    """Vote through the queue, then say whether the board applied it."""
    from phoenix_board.workers.client import Client

    value = vote_value(direction)
    with Client(settings()) as client:
        task_id, who = _known(client, task, agent)
        client.vote(task_id, agent, value, reason)

        def applied() -> bool:
            mine = [v for v in votes.votes_for(client.database(), task_id) if v["codename"] == who.codename]
            return (not mine) if value == 0 else bool(mine and mine[0]["vote"] == value)

        _report(client, applied, wait, f"vote {direction} on {ids.short_one(task_id)} by {who.codename}", who.team)


@queue_app.command("comment")
def queue_comment(task: str = typer.Argument(..., help="Task id (the short id tables show will do)."),
                  content: str = typer.Argument(..., help="The comment."),
                  agent: str = typer.Option(..., "--agent", "-a", help="Commenting agent: codename or id."),
                  reply_to: Optional[str] = typer.Option(None, "--reply-to", help="Parent comment id."),
                  wait: float = typer.Option(10.0, "--wait", min=0, help="Seconds to wait for the board to apply it; 0: do not wait."),
                  key: Optional[str] = typer.Option(None, "--idempotency-key",
                                                    help="The agent's own key: re-sending with it posts the comment once.")) -> None:
    """Comment through the queue, then say whether the board applied it."""
    from phoenix_board.workers.client import Client

    with Client(settings()) as client:
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


@queue_app.command("status")
def queue_status(ref: str = typer.Argument(..., help="Task id or idempotency key.")) -> None:
    """The status of a task by id or idempotency key (exit 3 while it is not on the board)."""
    from phoenix_board.workers.client import Client

    with Client(settings()) as client:
        task = client.status(ref)
    if task is None:
        typer.echo("not on the board yet")
        raise typer.Exit(3)
    typer.echo(render.dumps(task.model_dump(mode="json")))


def status(as_json: bool = typer.Option(False, "--json", help="One JSON object.")) -> None:
    """What runs for this board (its data directory): up, its servers, pools, beat, exporter and relay,
    with their pids and whether they are alive; exit 3 when no up runs."""
    data_dir = settings().data_dir.resolve()
    record, running = runstate.read(data_dir), runstate.held(data_dir)
    procs = [{**p, "alive": runstate.alive(p), "pids": runstate.members(p)} for p in (record or {}).get("processes", [])]
    if as_json:
        typer.echo(json.dumps({"data_dir": str(data_dir), "running": running, "record": record and {
            k: v for k, v in record.items() if k != "processes"}, "processes": procs}, default=str))
    elif not record:
        typer.echo(f"no up runs for {data_dir}" + ("" if not running else " (it is starting)"))
    else:
        typer.echo(f"{'up' if running else 'no up (it died)'} for {data_dir}: pid {record['pid']} "
                   f"since {record['started_at']}")
        for k, v in record.get("urls", {}).items():
            typer.echo(f"  {k}: {v}")
        for p in procs:
            extra = f" ({len(p['pids'])} processes)" if p["group"] and p["pids"] else ""
            typer.echo(f"  {p['name']:<20} pid {p['pid']:<8} {'alive' if p['alive'] else 'dead'}{extra}")
    if not running:
        raise typer.Exit(3)


def down(timeout: float = typer.Option(60.0, "--timeout", min=1, help="Seconds to wait for up to stop.")) -> None:
    """Stop this board's up (as Ctrl-C does), and whatever a dead up left running."""
    data_dir = settings().data_dir.resolve()
    record = runstate.read(data_dir)
    if runstate.held(data_dir):
        if not record:
            raise errors.Conflict(f"an up is starting for {data_dir}; try again in a few seconds")
        me = next(p for p in record["processes"] if p["kind"] == "up")
        if runstate.alive(me):
            os.kill(me["pid"], signal.SIGTERM)
        if not runstate.wait_released(data_dir, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(me["pid"], signal.SIGKILL)
            runstate.wait_released(data_dir, 10)
        left = runstate.stop(record)
        runstate.forget(data_dir)
        typer.echo(f"stopped up (pid {record['pid']})" + (f" and {', '.join(left)}" if left else ""))
    elif record:
        left = runstate.stop(record)
        runstate.forget(data_dir)
        typer.echo(f"up (pid {record['pid']}) had died; stopped what it left: {', '.join(left) or 'nothing'}")
    else:
        typer.echo(f"no up runs for {data_dir}")


def mount(app: typer.Typer) -> None:
    from phoenix_board.board import bench as board_bench
    from phoenix_board.workers import bench, faults, up

    board_bench.app.command("e2e")(bench.e2e_cmd)
    board_bench.app.command("faults")(faults.faults_cmd)
    app.command("workers")(workers)
    app.command("up")(up.up)
    app.command("status")(status)
    app.command("down")(down)
    app.add_typer(queue_app, name="queue")
