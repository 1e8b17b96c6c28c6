"""`phoenix-board workers` (an agent pool), and `status` and `down` for what `up` (cli/up.py)
started on this machine."""

from __future__ import annotations

import contextlib
import enum
import json
import os
import signal
import socket
from typing import Optional

import typer

from phoenix_board.board import errors, models
from phoenix_board.board.session import open_board
from phoenix_board.cli import render, toolkit
from phoenix_board.workers import broker, identity, idle_poller, logins, process_state, runstate
from phoenix_board.workers.app import make_app

PREFORK_MAX = 256  # a process each: past this, threads
THREADS_MAX = 2000  # one process's agents; more agents: more pools


class Pool(str, enum.Enum):
    prefork = "prefork"
    threads = "threads"


def workers(
    team: str = typer.Option(..., "--team", "-t", help="The team these agents work for."),
    agents_n: int = typer.Option(4, "--agents", "-n", min=1, max=THREADS_MAX,
                                 help=f"Agents: pool processes (prefork, at most {PREFORK_MAX}) or threads of one process."),
    pool: Pool = typer.Option(Pool.prefork, "--pool", case_sensitive=False,
                              help="prefork: an agent per process; threads: all agents in one process, sharing "
                                   "PHOENIX_THREAD_POOL_CONNECTIONS connections (docs/operations/running-agents.md)."),
    name: Optional[str] = typer.Option(None, "--name", help="Codename prefix; agents are PREFIX-<pool index>."),
    specialization: list[str] = typer.Option([], "--specialization", "-s", help="Categories these agents assess."),
    loglevel: str = typer.Option("INFO", "--loglevel", "-l"),
    metrics_port: Optional[int] = typer.Option(
        None, "--metrics-port",
        help="Serve these agents' own metrics on all addresses at this port; 0: not at all. "
             "Default PHOENIX_WORKER_METRICS_PORT (9465)."),
) -> None:
    """Start a Celery worker whose pool processes (or threads) are this team's agents."""
    if pool is Pool.prefork and agents_n > PREFORK_MAX:
        raise errors.InvalidInput(f"--agents {agents_n}: a prefork pool runs at most {PREFORK_MAX} agents (a process "
                                  "each); use --pool threads, or more pools")
    s = toolkit.settings()
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
            process_state.ENV_TEAM: team,
            process_state.ENV_PREFIX: me.prefix,
            process_state.ENV_HOLDER: str(me.holder),
            process_state.ENV_POOL: pool.value,
            process_state.ENV_AGENTS: str(agents_n),
            process_state.ENV_SPECIALIZATION: json.dumps(specialization),
            process_state.ENV_DATABASE: db.url,
            "PHOENIX_REDIS_URL": url,
        })
        # the launcher's own connection is not needed past here: the agents open theirs, and a
        # thread pool's process holds no more than PHOENIX_THREAD_POOL_CONNECTIONS
        db.close()
        app = make_app(url, s)
        app.steps["worker"].add(idle_poller.IdlePoller)
        app.worker_main([
            "worker", "--pool", pool.value, "--concurrency", str(agents_n),
            "--queues", f"{s.team_queue(team)},{s.board_queue()}",
            "--hostname", f"{me.prefix}@%h", "--loglevel", loglevel,
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ])


def status(as_json: bool = typer.Option(False, "--json", help="One JSON object.")) -> None:
    """What runs for this board (its data directory): up, its servers, pools, beat, exporter and relay,
    with their pids and whether they are alive; exit 3 when no up runs."""
    data_dir = toolkit.settings().data_dir.resolve()
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
    data_dir = toolkit.settings().data_dir.resolve()
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
