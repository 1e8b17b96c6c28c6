"""`phoenix-board workers` (an agent pool), `phoenix-board up` (everything on one machine) and
`phoenix-board queue ...` (the queue client on the command line)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from typing import Any, Optional

import typer

from phoenix_board.board import errors, models, render
from phoenix_board.board.commands import json_arg, settings, vote_value, warn_unhandled
from phoenix_board.board.session import open_board
from phoenix_board.workers import broker, signals
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
        None, "--metrics-port", help="Serve these agents' own metrics here (needs PROMETHEUS_MULTIPROC_DIR)."),
) -> None:
    """Start a Celery worker whose pool processes are this team's agents."""
    s = settings()
    if metrics_port is not None:
        from phoenix_board.metrics import worker as worker_metrics

        if not worker_metrics.enabled():
            raise errors.InvalidInput("--metrics-port needs PROMETHEUS_MULTIPROC_DIR set before the worker starts")
        try:
            worker_metrics.serve(metrics_port)
        except OSError as exc:
            raise errors.Unavailable(f"cannot listen on port {metrics_port}: {exc.strerror}") from None
    prefix = name or f"{team}.{socket.gethostname()}"
    models.parse(models.AgentRegister, {"codename": f"{prefix}-0", "team": team, "specialization": specialization})
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(open_board(s, max_size=1))
        if not db.one("team_exists", team=team)["found"]:
            raise errors.NotFound(f"team {team} not found; teams: {', '.join(t['name'] for t in db.all('teams_list'))}")
        url = stack.enter_context(broker.broker_url(s))
        os.environ.update({
            signals.ENV_TEAM: team,
            signals.ENV_PREFIX: prefix,
            signals.ENV_SPECIALIZATION: json.dumps(specialization),
            signals.ENV_DATABASE: db.url,
            "PHOENIX_REDIS_URL": url,
        })
        app = make_app(url, s)
        app.steps["worker"].add(signals.IdlePoller)
        app.worker_main([
            "worker", "--pool", "prefork", "--concurrency", str(agents_n),
            "--queues", f"{s.team_queue(team)},{s.board_queue()}",
            "--hostname", f"{prefix}@%h", "--loglevel", loglevel,
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
) -> None:
    """Submit a task through the queue; prints its idempotency key."""
    from phoenix_board.workers.client import Client

    data: dict[str, Any] = {"title": title, "team": team, "category": category, "priority": priority,
                            "payload": json_arg(payload, "--payload") or {}, "review_quorum": review_quorum}
    with Client(settings()) as client:
        typer.echo(client.submit(data, key))
    warn_unhandled(category)


@queue_app.command("vote")
def queue_vote(task: str, direction: str, agent: str = typer.Option(..., "--agent", "-a"),
               reason: Optional[str] = typer.Option(None, "--reason")) -> None:
    """Vote through the queue."""
    from phoenix_board.workers.client import Client

    with Client(settings()) as client:
        client.vote(models.uuid_arg(task, "task"), agent, vote_value(direction), reason)


@queue_app.command("comment")
def queue_comment(task: str, content: str, agent: str = typer.Option(..., "--agent", "-a"),
                  reply_to: Optional[str] = typer.Option(None, "--reply-to")) -> None:
    """Comment through the queue."""
    from phoenix_board.workers.client import Client

    with Client(settings()) as client:
        client.comment(models.uuid_arg(task, "task"), agent, content, reply_to)


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


def mount(app: typer.Typer) -> None:
    from phoenix_board.board import bench as board_bench
    from phoenix_board.workers import bench, faults, up

    board_bench.app.command("e2e")(bench.e2e_cmd)
    board_bench.app.command("faults")(faults.faults_cmd)
    app.command("workers")(workers)
    app.command("up")(up.up)
    app.add_typer(queue_app, name="queue")
