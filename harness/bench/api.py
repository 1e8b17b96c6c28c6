"""``phoenix-board bench api``: the HTTP API's figures on a large board, each next to a baseline
measured in the same run (DESIGN.md, "Performance"; issue 15's benchmark).

On a scratch board seeded by the board benchmark's loader (harness/bench/board.py: ``--tasks`` tasks,
default a million), with a Valkey, a relay and a ``phoenix-board serve`` process of the bench's
own (nothing of anyone's board is touched):

* ``board_page_p99_ms``: ``taskBoard(first: 50)`` (hot) through HTTP, one keep-alive client;
  baseline ``python_page_p99_ms``: ``ranking.page(db, "hot", limit=50)`` in this process.
* ``claim_result_per_s``: 8 threads, each an agent with its own agent token, claim and post a
  result through HTTP (two requests a task); baseline ``python_claim_result_per_s``: the same
  cycles through the Python API on a pool of this process; ``ratio`` = HTTP / Python. The runs
  alternate and each side reports its best, as ``bench board`` does.
* ``subscription_p99_ms``: 500 websocket subscribers of ``taskCreated``; tasks are submitted one
  at a time through the Python API and each delivery's delay is taken from the commit's return to
  the subscriber's receipt. Baseline ``stream_p99_ms``: the same commits to a plain ``XREAD``
  reader of the Redis stream (the relay's share: its poll interval and the XADD).
* ``server_rss_mb``: the server process's resident memory with the subscribers connected.

The rate limit is raised for the bench's own server (500 handshakes from one token would be
refused, rightly); everything else runs with the product's defaults. Targets are reported with a
boolean each; nothing asserts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis
import typer
from rich.console import Console

from phoenix_board.api import client as api_client
from phoenix_board.api import tokens
from phoenix_board.board import agents, embedded, errors, lifecycle, ranking
from phoenix_board.board.db import Database
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.bench import board as bench
from phoenix_board.harness.queries import database
from phoenix_board.workers import broker

TARGETS: dict[str, tuple[str, float]] = {
    "board_page_p99_ms": ("<=", 10.0),
    "ratio": (">=", 0.5),
    "subscription_p99_ms": ("<=", 100.0),
}
RELAY_INTERVAL = 0.05  # s between relay passes (the relay's shortest); `up` runs it with its default, 1 s
BOARD_QUERY = "query { taskBoard(first: 50) { nodes { id title team status score hotScore } pageInfo { endCursor } } }"
CLAIM = "mutation { claim { id attempt } }"
RESULT = "mutation($id: ID!, $a: Int!) { result(taskId: $id, attempt: $a, quality: 1.0) { status } }"
CREATED = "subscription($team: String) { taskCreated(team: $team) { id taskId } }"
SUB_TEAM = "iota"  # subscription tasks go to a team the claim runs do not drain


@dataclasses.dataclass(frozen=True)
class Config:
    tasks: int = 1_000_000
    agents: int = 1_000
    seconds: float = 5.0
    rounds: int = 2
    threads: int = 8
    pages: int = 1_000
    subscribers: int = 500
    events: int = 20

    def __post_init__(self) -> None:
        if not 1 <= self.subscribers <= 5_000 or not 1 <= self.events <= 1_000 or self.pages < 1:
            raise errors.InvalidInput("subscribers must be 1-5000, events 1-1000, pages at least 1")

    def board(self) -> bench.Config:
        # the board bench's loader and checks; its claim supply is sized for both our sides
        return bench.Config(tasks=self.tasks, agents=self.agents, seconds=self.seconds, rounds=self.rounds * 2,
                            threads=self.threads)


def _p(values: list[float], q: float) -> float:
    return round(bench._percentile(values, q), 3) if values else math.nan


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    out = open(log, "ab")  # noqa: SIM115 - kept for the process's life
    proc = subprocess.Popen([sys.executable, "-m", "phoenix_board.cli", *args], env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        out.close()


@contextlib.contextmanager
def _stack(url: str, tmp: Path, ui: bench.Ui) -> Iterator[tuple[str, str, subprocess.Popen]]:
    """A Valkey, a relay and a server for the scratch board. -> (API base URL, Redis URL, server)"""
    valkey = broker.start_valkey(tmp / "valkey")
    try:
        redis_url = f"redis://127.0.0.1:{valkey.port}/0"
        port = broker.free_port()
        env = {**os.environ, "PHOENIX_DATABASE_URL": url, "PHOENIX_REDIS_URL": redis_url,
               "PHOENIX_DATA_DIR": str(tmp / "data"), "PHOENIX_API_RATE_PER_SECOND": "100000",
               "PHOENIX_API_RATE_BURST": "100000", "PHOENIX_API_MAX_SUBSCRIPTIONS": "10000"}
        ui.note(f"a relay (every {RELAY_INTERVAL} s) and a server on port {port}")
        with _process(["events", "relay", "--interval", str(RELAY_INTERVAL)], env, tmp / "relay.log") as relay, \
                _process(["serve", "--port", str(port)], env, tmp / "server.log") as server:
            base = f"http://127.0.0.1:{port}"
            end = time.monotonic() + 120
            while True:
                for proc, name in ((server, "server"), (relay, "relay")):
                    if proc.poll() is not None:
                        raise errors.Unavailable(f"the bench's {name} exited: {(tmp / f'{name}.log').read_text()[-500:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                        break
                if time.monotonic() > end:
                    raise errors.Unavailable("the bench's server was not ready within 120 s")
                time.sleep(0.2)
            yield base, redis_url, server
    finally:
        valkey.stop()


def pages(db: Database, base: str, token: str, config: Config, ui: bench.Ui) -> dict[str, float]:
    ui.note(f"hot page: {config.pages} calls through HTTP, {config.pages} through the Python API")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        def call(_i: int) -> None:
            r = http.post("/graphql", json={"query": BOARD_QUERY})
            if r.status_code != 200 or r.json().get("errors"):
                raise errors.BoardError(f"taskBoard failed: {r.text[:300]}")

        for i in range(bench.PAGE_WARMUP):
            call(i)
        over_http = bench._latencies_ms(config.pages, call)
    for _ in range(bench.PAGE_WARMUP):
        ranking.page(db, "hot", limit=50)
    direct = bench._latencies_ms(config.pages, lambda _i: ranking.page(db, "hot", limit=50))
    return {"board_page_p50_ms": _p(over_http, 0.5), "board_page_p99_ms": _p(over_http, 0.99),
            "python_page_p50_ms": _p(direct, 0.5), "python_page_p99_ms": _p(direct, 0.99)}


def claims(db: Database, base: str, config: Config, ui: bench.Ui) -> dict[str, Any]:
    """HTTP and Python claim + result runs, alternating, each agent its own token on the HTTP side."""
    ids = [agents.register(db, {"codename": f"bench-api-{i}", "team": bench.TEAM, "role": "bench"})[0].id
           for i in range(config.threads)]
    clients = [api_client.GraphQLClient(base, tokens.create(db, "agent", agent=str(a)).token, retries_when_limited=0)
               for a in ids]
    # the Python side acts for agents of its own, so both sides start with agents alike
    python_ids = [agents.register(db, {"codename": f"bench-py-{i}", "team": bench.TEAM, "role": "bench"})[0].id
                  for i in range(config.threads)]

    def http_step(i: int) -> bool:
        task = clients[i].execute(CLAIM)["claim"]
        if task is None:
            return False
        clients[i].execute(RESULT, {"id": task["id"], "a": task["attempt"]})
        return True

    def python_step(i: int) -> bool:
        task = lifecycle.claim(db, python_ids[i])
        if task is None:
            return False
        lifecycle.result(db, task.id, python_ids[i], task.attempt, quality=1.0)
        return True

    steps = {"python": python_step, "http": http_step}
    try:
        for kind, step in steps.items():
            ui.note(f"warm-up: {kind}")
            bench.concurrently(kind, config.threads, math.inf, step, limit=bench.WARMUP_PER_THREAD)
        runs = []
        for number in range(1, config.rounds + 1):
            for kind, step in steps.items():
                ui.note(f"round {number}/{config.rounds}: {kind} claim + result for {config.seconds:g} s")
                runs.append(bench.concurrently(kind, config.threads, config.seconds, step))
    finally:
        for c in clients:
            c.close()
    http_best = max(r.per_s for r in runs if r.kind == "http")
    python_best = max(r.per_s for r in runs if r.kind == "python")
    return {"claim_result_per_s": round(http_best, 1), "python_claim_result_per_s": round(python_best, 1),
            "ratio": round(http_best / python_best, 3) if python_best else 0.0,
            "claim_runs": [r.as_json() for r in runs]}


async def _subscriptions(db: Database, base: str, redis_url: str, token: str, config: Config,
                         server: subprocess.Popen, ui: bench.Ui) -> dict[str, Any]:
    ui.note(f"subscriptions: {config.subscribers} websocket subscribers, {config.events} tasks")
    received: list[dict[str, float]] = [{} for _ in range(config.subscribers)]
    arrivals: dict[str, asyncio.Event] = {}
    counts: dict[str, int] = {}

    async def subscriber(i: int) -> None:
        async for data in api_client.subscribe(base, token, CREATED, {"team": SUB_TEAM}, open_timeout=120):
            task = data["taskCreated"]["taskId"]
            received[i][task] = time.time()
            counts[task] = counts.get(task, 0) + 1
            if counts[task] == config.subscribers and task in arrivals:
                arrivals[task].set()

    stream_seen: dict[str, float] = {}

    def stream_reader(stop: threading.Event) -> None:
        """The baseline: one plain reader of the stream the relay writes."""
        r = redis.Redis.from_url(redis_url, decode_responses=True)
        last = (r.xrevrange("task.created", count=1) or [("0-0", {})])[0][0]
        while not stop.is_set():
            for _topic, entries in r.xread({"task.created": last}, block=200) or ():
                for entry_id, fields in entries:
                    last = entry_id
                    stream_seen.setdefault(fields.get("task_id", ""), time.time())
        r.close()

    async def submit() -> tuple[str, float]:
        task, _ = await asyncio.to_thread(lifecycle.submit, db, {"title": "bench subscription", "team": SUB_TEAM})
        committed = time.time()
        event = arrivals.setdefault(str(task.id), asyncio.Event())
        if counts.get(str(task.id), 0) >= config.subscribers:  # all arrived before we got here
            event.set()
        return str(task.id), committed

    tasks = [asyncio.create_task(subscriber(i)) for i in range(config.subscribers)]
    stop = threading.Event()
    reader = threading.Thread(target=stream_reader, args=(stop,), daemon=True)
    reader.start()
    try:
        # every subscriber is in once each has seen one task; repeat until a task reaches them all
        while True:
            warm, _ = await submit()
            try:
                await asyncio.wait_for(arrivals[warm].wait(), timeout=30)
                break
            except TimeoutError:
                if all(t.done() for t in tasks):
                    raise errors.Unavailable("every subscriber failed: " + repr(tasks[0].exception()))
        rss = psutil.Process(server.pid).memory_info().rss / 2**20
        committed: dict[str, float] = {}
        for _ in range(config.events):
            task, at = await submit()
            committed[task] = at
            await asyncio.wait_for(arrivals[task].wait(), timeout=60)
            await asyncio.sleep(0.05)  # one at a time: each delivery's delay, not a queue's
        rss = max(rss, psutil.Process(server.pid).memory_info().rss / 2**20)
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        reader.join(timeout=5)
    delays = [(got[t] - at) * 1000 for got in received for t, at in committed.items() if t in got]
    stream = [(stream_seen[t] - at) * 1000 for t, at in committed.items() if t in stream_seen]
    return {"subscription_p50_ms": _p(delays, 0.5), "subscription_p99_ms": _p(delays, 0.99),
            "subscription_deliveries": len(delays), "subscription_expected": config.subscribers * config.events,
            "stream_p50_ms": _p(stream, 0.5), "stream_p99_ms": _p(stream, 0.99),
            "server_rss_mb": round(rss, 1)}


def run(server_url: str, config: Config, console: Console | None = None) -> dict[str, Any]:
    ui = bench.Ui(console)
    board_config = config.board()
    with bench.scratch_database(server_url, False, ui) as (name, url), \
            tempfile.TemporaryDirectory(prefix="phoenix-bench-api-") as tmp:
        with database(url, min_size=bench.POOL_SIZE, max_size=bench.POOL_SIZE, name="phoenix-bench-api") as db:
            seed_seconds = bench.seed(url, db, board_config, ui)
            with _stack(url, Path(tmp), ui) as (base, redis_url, server):
                reader = tokens.create(db, "reader").token
                figures = pages(db, base, reader, config, ui)
                figures |= claims(db, base, config, ui)
                figures |= asyncio.run(_subscriptions(db, base, redis_url, reader, config, server, ui))
    result: dict[str, Any] = {
        **figures,
        "tasks": config.tasks, "agents": config.agents, "threads": config.threads, "seconds": config.seconds,
        "subscribers": config.subscribers, "events": config.events, "hot_page_calls": config.pages,
        "relay_interval_s": RELAY_INTERVAL, "seed_seconds": round(seed_seconds, 1), "cpu_count": os.cpu_count(),
        "database": name,
    }
    result["targets"] = {
        key: {"target": f"{op} {limit:g}", "value": result[key], "met": bool(bench._OPS[op](result[key], limit))}
        for key, (op, limit) in TARGETS.items()
    }
    result["targets_met"] = all(t["met"] for t in result["targets"].values())
    return result


def api_cmd(
    tasks: int = typer.Option(1_000_000, "--tasks", help="Tasks on the seeded board (at least 1000)."),
    agents_: int = typer.Option(1_000, "--agents", help="Agents on the seeded board."),
    seconds: float = typer.Option(5.0, "--seconds", help="Length of each timed claim run."),
    rounds: int = typer.Option(2, "--rounds", help="HTTP/Python pairs of claim runs."),
    pages_: int = typer.Option(1_000, "--pages", help="Timed taskBoard calls per side."),
    subscribers: int = typer.Option(500, "--subscribers", help="Websocket subscribers."),
    events: int = typer.Option(20, "--events", help="Tasks whose delivery to every subscriber is timed."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """The HTTP API on a large board: a hot page, claim + result with 8 agents, 500 subscribers, RSS.

    Seeds a scratch database on the board's server and runs its own Valkey, relay and server; each
    figure has a baseline from the same run. stdout: figures; stderr: progress.
    """
    config = Config(tasks=tasks, agents=agents_, seconds=seconds, rounds=rounds, pages=pages_,
                    subscribers=subscribers, events=events)
    config.board()  # its bounds checked before anything starts
    # a terminated bench unwinds like an interrupted one: its server, relay, Valkey and database go too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with embedded.database_url(toolkit.settings()) as url:
        result = run(url, config, Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
        return
    for key, value in result.items():
        if key not in ("targets", "claim_runs"):
            render.console.print(f"{key:<28} {value}")
    for key, t in result["targets"].items():
        render.console.print(f"{key:<28} {t['target']}: {'met' if t['met'] else 'missed'}")
