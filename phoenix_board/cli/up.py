"""`phoenix-board up`: the whole board on one machine.

Starts (or uses, when URLs are given) PostgreSQL and Redis, migrates, starts one worker pool per
team, and shows a live view of the board, the agents and the throughput. ``--demo`` feeds a
stream of tasks; ``--for`` stops after a while and prints a summary. Ctrl-C or SIGTERM stops
everything it started, agents first and servers last: each pool runs in its own process group,
whose main process is terminated (a warm shutdown), then the group killed if it lingers. One `up`
runs per data directory, and a watchdog stops what it started if it dies (``runstate.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Optional

import typer
from rich.live import Live

from phoenix_board.board import agents, embedded, errors, federation, hormones, models, ranking
from phoenix_board.board.db import Database
from phoenix_board.board.session import open_board
from phoenix_board.api import settings as api_settings
from phoenix_board.board.settings import Settings
from phoenix_board.cli import live, render, toolkit
from phoenix_board.cli import workers as workers_cli
from phoenix_board.workers import broker, handlers, logins, runstate

# which demo categories each seeded team's agents assess
SPECIALIZATIONS = {"alpha_delta": ["data_mining", "lead_gen"], "epsilon_zeta": ["content", "lead_gen"],
                   "iota": ["development", "data_mining"]}
TITLES = {
    "data_mining": ["Mine {n} supplier records", "Deduplicate {n} company profiles", "Extract prices from {n} pages"],
    "lead_gen": ["Qualify {n} inbound leads", "Score {n} accounts", "Find decision makers at {n} firms"],
    "content": ["Draft {n} product summaries", "Translate {n} release notes", "Review {n} blog drafts"],
    "development": ["Fix {n} flaky tests", "Add metrics to {n} endpoints", "Refactor {n} query builders"],
    "plan": ["Plan the rollout of {n} services", "Plan a migration of {n} tables", "Plan {n} customer interviews"],
}
UP_PREFORK_MAX = 64  # prefork agents per team that up starts (a process each); more: --pool threads
PLAN_SHARE = 0.2  # of demo tasks are plans, which their agent splits into steps (delegation)
CASCADE_SHARE = 0.03  # of demo ticks also start an operator's hormone cascade in a team
# Hormones that move. At the default rate (4 tasks/s over 9 agents) each agent completes ~0.5
# tasks/s (plans' steps included), and a completion adds 0.5 x reward x quality dopamine. With
# rewards of 0.5-2 and the production half-life of 600 s, inflow outran decay ~100-fold and
# dopamine sat at its 5.0 cap. Measured with rewards of 0.2-1 and a 20 s half-life (up --demo --for
# 120, one machine): dopamine moved but mostly within 3.1-5.0. Halving the half-life halves the
# excess over the baseline, so the demo decays with 10 s, every 2 s: measured the same way, the
# nine agents' dopamine then ranged 1.8-4.6 (mostly 2-3.7), rising and falling with the load. A user's own PHOENIX_HORMONE_HALF_LIFE_SECONDS / PHOENIX_BEAT_HORMONE_DECAY_SECONDS win.
DEMO_REWARD_RANGE = (0.2, 1.0)
DEMO_HORMONE_HALF_LIFE_SECONDS = 10.0
DEMO_HORMONE_DECAY_SECONDS = 2.0


def child_command(args: list[str]) -> list[str]:
    """How `up` runs a part of the board. ``-P``: the child's ``sys.path`` does not start with its
    working directory. Run from a source checkout after ``pip install .`` (not ``-e``), that
    folder's ``phoenix_board/`` (the wiring only) would shadow the installed package and every
    child would die with ModuleNotFoundError."""
    return [sys.executable, "-P", "-m", "phoenix_board.cli", *args]


class Pools:
    """The worker pools, each in its own session so that it can be stopped as a group.

    Each log is appended to across runs; a run writes a dated header line first and quotes only
    what it appended itself when a part stops (an earlier run's last lines would mislead)."""

    def __init__(self, log_dir: Path, on_start: Callable[[str, int], None] = lambda name, pid: None) -> None:
        self.log_dir = log_dir
        self.on_start = on_start
        self.procs: dict[str, subprocess.Popen] = {}
        self.offsets: dict[str, int] = {}

    def start(self, team: str, n: int, env: dict[str, str], pool: str = "prefork") -> None:
        # `up`'s exporter serves the agents' metrics from the shared directory: no port per pool
        args = ["workers", "--team", team, "--agents", str(n), "--name", team, "--loglevel", "INFO",
                "--metrics-port", "0", "--pool", pool]
        for spec in SPECIALIZATIONS.get(team, []):
            args += ["--specialization", spec]
        self.start_command(f"workers-{team}", args, env)

    def start_command(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child
        log.write(f"==== {datetime.now(UTC).isoformat(timespec='seconds')} up (pid {os.getpid()}) "
                  f"starts {name} ====\n".encode())
        log.flush()
        self.offsets[name] = log.tell()
        self.procs[name] = subprocess.Popen(child_command(args), env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.on_start(name, self.procs[name].pid)

    def dead(self) -> list[str]:
        return [team for team, p in self.procs.items() if p.poll() is not None]

    def log_tail(self, name: str, lines: int = 5) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        with path.open("rb") as f:
            f.seek(self.offsets.get(name, 0))
            text = f.read().decode(errors="replace")
        return " | ".join(text.strip().splitlines()[-lines:]) or f"no output; see {path}"

    def stop(self, grace: float = 20.0) -> None:
        for p in self.procs.values():
            # warm shutdown: the worker's main process lets running handlers finish; SIGTERM to the
            # whole group would kill the pool processes mid-task (WorkerLostError)
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        end = time.monotonic() + grace
        for p in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, end - time.monotonic()))
        for p in self.procs.values():
            # the pool processes share the group: kill whatever is left of it, parent or not
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)


class DemoFeed(threading.Thread):
    """A realistic stream of tasks: categories, dependencies, deadlines, priorities, reviews, votes."""

    def __init__(self, db: Database, s: Settings, teams: list[str], rate: float, stop: threading.Event,
                 crew: dict[str, list[models.Agent]] | None = None) -> None:
        super().__init__(name="phoenix-demo", daemon=True)
        from phoenix_board.workers.client import Client

        self.db, self.teams, self.rate, self.stop_event = db, teams, rate, stop
        self.crew = crew or {}  # per team, the agents this `up` started: the only ones the demo acts for
        self.client = Client(s)
        self.rng = random.Random(7)
        self.sent = 0
        self.error: str | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.wait(self.rng.expovariate(self.rate)):
                self.once()
        except errors.BoardError as exc:
            self.error = exc.message
        finally:
            self.client.close()

    def once(self) -> None:
        rng = self.rng
        team = rng.choice(self.teams)
        category = "plan" if rng.random() < PLAN_SHARE else rng.choice(handlers.DEMO_CATEGORIES)
        task = {
            "title": rng.choice(TITLES[category]).format(n=rng.choice((3, 5, 8, 13, 21, 34))),
            "team": team, "category": category,
            "priority": rng.choices(range(1, 11), weights=(1, 2, 3, 4, 6, 6, 4, 3, 2, 1))[0],
            "fibonacci_size": rng.choice((1, 1, 2, 3, 5, 8)),
            "dopamine_reward": round(rng.uniform(*DEMO_REWARD_RANGE), 2),
            "description": "demo task fed by `phoenix-board up --demo`",
        }
        if rng.random() < 0.25:
            task["deadline"] = (datetime.now(UTC) + timedelta(seconds=rng.uniform(300, 7200))).isoformat()
        if rng.random() < 0.2:
            task["review_quorum"] = 2
        recent, _ = ranking.page(self.db, "new", team=team, statuses=["open", "claimed", "in_progress"], limit=5)
        if recent and rng.random() < 0.15:
            task["depends_on"] = [str(r["id"]) for r in rng.sample(recent, k=min(len(recent), rng.choice((1, 2))))]
        self.client.submit(task)
        self.sent += 1
        ours = self.crew.get(team, [])
        if ours and rng.random() < CASCADE_SHARE:  # the operator's cascadeHormone, as `hormones cascade` does,
            # started at one of the demo's agents (not the whole team, which may hold the user's own)
            federation.cascade(self.db, rng.choice(hormones.HORMONES),
                               round(rng.choice((1, 1, -1)) * rng.uniform(0.3, 1.0), 2), agent=rng.choice(ours).id)
        waiting = [r for r in recent if r["status"] == "open"]
        if waiting and rng.random() < 0.3:  # programs vote too, in the name of one of the demo's agents
            voters = ours
            if voters:
                self.client.vote(rng.choice(waiting)["id"], rng.choice(voters).codename, rng.choice((1, 1, -1)))


def up(
    agents_per_team: int = typer.Option(3, "--agents", "-n", min=1, max=workers_cli.THREADS_MAX,
                                        help=f"Agents per team (prefork: pool processes, at most {UP_PREFORK_MAX})."),
    pool: workers_cli.Pool = typer.Option(workers_cli.Pool.prefork, "--pool", case_sensitive=False,
                                          help="Each team's pool: prefork (a process per agent) or threads (one process)."),
    team: list[str] = typer.Option([], "--team", "-t", help="Teams to run (default: all)."),
    demo: bool = typer.Option(False, "--demo", help="Feed a realistic stream of demo tasks."),
    rate: float = typer.Option(4.0, "--rate", min=0.1, max=1000, help="Demo tasks per second."),
    for_seconds: Optional[float] = typer.Option(None, "--for", min=1, help="Run this long, print a summary, exit 0."),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="Default PHOENIX_METRICS_PORT (9464)."),
    metrics_addr: str = typer.Option("127.0.0.1", "--metrics-addr",
                                     help="Where /metrics listens; 0.0.0.0 for every interface."),
    api_port: Optional[int] = typer.Option(None, "--api-port", min=1, max=65535,
                                           help="Where the HTTP/GraphQL API listens (default PHOENIX_API_PORT, 8470)."),
) -> None:
    """Run the whole board on this machine: PostgreSQL, Valkey, one agent pool per team, a live view."""
    if pool is workers_cli.Pool.prefork and agents_per_team > UP_PREFORK_MAX:
        raise errors.InvalidInput(f"--agents {agents_per_team}: up runs at most {UP_PREFORK_MAX} prefork agents "
                                  "per team (a process each); use --pool threads")
    s = toolkit.settings()
    metrics_port = metrics_port or s.metrics_port
    api = api_settings.ApiSettings()
    api_url = f"http://{api.api_host}:{api_port or api.api_port}/graphql"
    console = render.console
    data_dir = s.data_dir.resolve()
    lock = runstate.Lock(data_dir)
    lock.acquire()  # one up per data directory; refused with what runs there
    stop = threading.Event()
    record = runstate.new_record(data_dir)

    def remember(name: str, pid: int, kind: str = "agents") -> None:
        record["processes"].append(runstate.entry(name, kind, pid, group=kind == "agents"))
        runstate.write(data_dir, record)

    pools = Pools(data_dir / "logs", remember)

    def _on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    feed: DemoFeed | None = None
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(lock.release)
            _clean_leftovers(data_dir)
            runstate.write(data_dir, record)
            stack.enter_context(_watchdog(data_dir, pools.log_dir, remember))
            # callbacks run last first: the record goes once the servers have stopped, and before
            # the watchdog is told up has exited, so it finds nothing to stop
            stack.callback(runstate.forget, data_dir)
            pg_here = not s.database_url and not embedded.EmbeddedPostgres(data_dir).running()
            with _phase("starting PostgreSQL and migrating…"):
                db = stack.enter_context(open_board(s, max_size=4, create=True))
            pg_pid = embedded.EmbeddedPostgres(data_dir).pid() if pg_here else None
            if pg_pid:
                remember("postgres", pg_pid, "postgres")
            with _phase("starting Valkey…" if not s.redis_url else "connecting to the broker…"):
                broker_url = _broker(s, stack, remember)
            record["urls"] = {"metrics": f"http://{metrics_addr}:{metrics_port}/metrics", "api": api_url,
                              "broker": broker_url,
                              "logs": str(pools.log_dir)}
            runstate.write(data_dir, record)
            teams = team or [t["name"] for t in db.all("teams_list")]
            # every agent, the beat and the exporter share one directory for multiprocess metrics,
            # emptied at start so that counts begin at zero with this run
            multiproc = data_dir / "metrics-multiproc"
            shutil.rmtree(multiproc, ignore_errors=True)
            multiproc.mkdir(parents=True)
            env = {**os.environ, "PHOENIX_DATABASE_URL": db.url, "PHOENIX_REDIS_URL": broker_url,
                   "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}
            if demo:  # hormones that move (DEMO_HORMONE_*): unless the user chose otherwise
                env.setdefault("PHOENIX_HORMONE_HALF_LIFE_SECONDS", str(DEMO_HORMONE_HALF_LIFE_SECONDS))
                env.setdefault("PHOENIX_BEAT_HORMONE_DECAY_SECONDS", str(DEMO_HORMONE_DECAY_SECONDS))
            started = datetime.now(UTC)
            stack.callback(pools.stop)  # the agents stop before the servers (entered earlier, closed later)
            with _phase("starting agents, the beat and the exporter…") as status:
                pool_env = logins.pool_environment(env, db.url, s)  # the agents' own login (workers/logins.py)
                for t in teams:
                    pools.start(t, agents_per_team, pool_env, pool.value)
                pools.start_command("beat", ["beat", "--loglevel", "INFO"], env)
                pools.start_command("metrics", ["metrics", "--port", str(metrics_port), "--addr", metrics_addr], env)
                pools.start_command("relay", ["events", "relay"], env)  # the outbox → Redis streams
                # the API serves agent tokens through the agents' own login, as the pools run (api/pools.py)
                api_env = {**env, "PHOENIX_AGENT_DATABASE_URL": pool_env["PHOENIX_DATABASE_URL"]}
                pools.start_command("api", ["serve", "--port", str(api_port or api.api_port)], api_env)
                _wait_for_agents(db, pools, teams, agents_per_team, started, status, stop)
            console.print(f"[green]up[/green]: {len(teams)} team(s), {agents_per_team} agents each, the beat, "
                          f"/metrics on {metrics_addr}:{metrics_port}; "
                          f"{live.services(s, api_url)}; logs in {pools.log_dir}; Ctrl-C to stop")
            # the first thing a newcomer wants: where to look, and how to get in
            console.print(f"[bold]open the board[/bold]: {api_url.removesuffix('graphql')} (sign in with a token from "
                          "`phoenix-board tokens create --operator`, in this folder)")
            if demo:
                crew = {t: started_agents(db, t, started) for t in teams}
                for t in teams:  # partners and a supervisor among the demo's own agents, so cascades have paths
                    made = federation.demo_topology(db, t, only=[a.id for a in crew[t]])
                    console.print(f"{t}: pairs {', '.join(' & '.join(p) for p in made['pairs']) or 'none'}; "
                                  f"supervisor {made['supervisor'] or 'none'}")
                feed = DemoFeed(db, s, teams, rate, stop, crew)
                feed.start()
            end = time.monotonic() + for_seconds if for_seconds else None
            # the view and the progress lines read the replica when one is set; the final
            # summary below reads the primary, which a lagging replica could undercount
            reads = stack.enter_context(live.reader(s, db))
            _watch(reads, s, started, teams, agents_per_team, feed, pools, stop, end, api_url)
            stop.set()
            if feed:
                feed.join(timeout=5)
            with _phase("stopping agents…"):
                pools.stop()
            summary = db.one("events_summary_since", since=started)
            together = db.one("together_since", since=started)
            elapsed = (datetime.now(UTC) - started).total_seconds()
            result = {"submitted": summary["submitted"], "completed": summary["completed"],
                      "failed": summary["failed"], "seconds": round(elapsed, 1),
                      "throughput_per_s": round(summary["completed"] / max(elapsed, 1e-9), 2), **together}
            typer.echo("summary: " + json.dumps(result))  # one line, never wrapped: scripts read it
    finally:
        stop.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _clean_leftovers(data_dir: Path) -> None:
    """What a dead up left (its watchdog died too, or has not finished): stop it before starting."""
    old = runstate.read(data_dir)
    if old:
        stopped = runstate.stop(old)
        if stopped:
            render.console.print(f"stopped what an earlier up (pid {old['pid']}) left running: {', '.join(stopped)}")
        runstate.forget(data_dir)


@contextlib.contextmanager
def _watchdog(data_dir: Path, log_dir: Path, remember: Callable[..., None]) -> Iterator[None]:
    """Starts the watchdog (workers/watchdog.py) on a pipe whose write end only this process holds;
    closing it at the end tells the watchdog up is gone, as a crash would."""
    read_end, write_end = os.pipe()  # not inheritable: no other child keeps the write end open
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "watchdog.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-P", "-m", "phoenix_board.workers.watchdog", str(data_dir),
                                 str(os.getpid())], stdin=read_end, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    os.close(read_end)
    remember("watchdog", proc.pid, "watchdog")
    try:
        yield
    finally:
        os.close(write_end)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def _broker(s: Settings, stack: contextlib.ExitStack, remember: Callable[..., None]) -> str:
    """The given broker, or this board's embedded Valkey, started here (and recorded) if none runs."""
    if s.redis_url:
        return s.redis_url
    found = broker.running_embedded(s.data_dir)
    if found:
        return found
    server = broker.EmbeddedValkey(s.data_dir)
    url = server.start()
    stack.callback(server.stop)
    if server.pid:
        remember("valkey", server.pid, "valkey")
    return url


@contextlib.contextmanager
def _phase(text: str):  # type: ignore[no-untyped-def]
    """A spinner on a terminal; on a pipe (where Rich's spinner prints nothing) one plain line,
    so that the first seconds are never silent."""
    console = render.console
    if console.is_terminal:
        with console.status(text) as status:
            yield status
        return
    console.print(text, highlight=False)

    class _Quiet:
        def update(self, *args: object, **kwargs: object) -> None:
            pass

    yield _Quiet()


def started_agents(db: Database, team: str, since: datetime) -> list[models.Agent]:
    """The agents this `up` started for a team: its pool's codenames (``<team>-<index>``, from
    ``--name``) with a heartbeat since the start. The demo acts for these only."""
    return [a for a in agents.list_agents(db, team=team, limit=10_000)
            if a.codename.startswith(f"{team}-") and a.codename[len(team) + 1:].isdigit() and a.last_heartbeat >= since]


def _wait_for_agents(db: Database, pools: Pools, teams: list[str], n: int, since: datetime, status,  # type: ignore[no-untyped-def]
                     stop: threading.Event, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while not stop.is_set():
        dead = pools.dead()
        if dead:
            raise errors.Unavailable(f"{dead[0]} stopped at start: {pools.log_tail(dead[0])}")
        live = [a for a in agents.list_agents(db, limit=10_000) if a.team in teams and a.last_heartbeat >= since]
        status.update(f"starting agents… {len(live)}/{n * len(teams)} registered")
        if len(live) >= n * len(teams):
            return
        if time.monotonic() > end:
            raise errors.Unavailable(f"agents did not start within {timeout:.0f} s; see the logs in {pools.log_dir}")
        stop.wait(0.3)


def _watch(db: Database, s: Settings, started: datetime, teams: list[str], n: int, feed: DemoFeed | None,
           pools: Pools, stop: threading.Event, end: float | None, api_url: str | None = None) -> None:
    console = render.console

    def done() -> bool:
        return stop.is_set() or (end is not None and time.monotonic() >= end)

    if console.is_terminal:
        # redrawn at the terminal's size of the moment, so a resize re-lays it out (cli/live.py)
        build = live.renderer(db, s, started, teams, n, console, lambda: feed.error if feed else None, api_url)
        with Live(build(), console=console, refresh_per_second=1, screen=False) as view:
            while not done():
                stop.wait(1.0 if end is None else min(1.0, max(0.0, end - time.monotonic())))
                _check_pools(pools)
                view.update(build())
        return
    last = 0.0
    while not done():  # no terminal (a pipe, CI): one progress line every 5 s
        stop.wait(0.5)
        _check_pools(pools)
        if time.monotonic() - last >= 5:
            summary = db.one("events_summary_since", since=started)
            together = db.one("together_since", since=started)
            console.print(f"submitted {summary['submitted']} · completed {summary['completed']} · failed {summary['failed']}"
                          f" · delegations {together['delegations']} ({together['children']} children)"
                          f" · cascades {together['cascades']}", soft_wrap=True)  # one line: scripts read it
            last = time.monotonic()


def _check_pools(pools: Pools) -> None:
    dead = pools.dead()
    if dead:
        raise errors.Unavailable(f"{dead[0]} stopped: {pools.log_tail(dead[0])}")
