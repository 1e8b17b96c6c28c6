"""``phoenix-board bench web``: the web board's figures (issue 16's benchmark), each next to a
baseline measured in the same run: the API's own query for the same data.

On a scratch board seeded by the board benchmark's loader (``--tasks``, default a million), with a
Valkey, a relay and a ``phoenix-board serve`` process of the bench's own (``bench api``'s stack):

* ``board_page_p99_ms``: ``GET /`` (the hot sort's first page, as a signed-in operator), one
  keep-alive client, the whole response read; baseline ``api_board_p99_ms``: ``taskBoard`` over
  HTTP asking for the fields the page shows, same page size, same client.
* ``task_page_p99_ms``: ``GET /t/<id>`` of seeded tasks in turn; baseline ``api_task_p99_ms``:
  ``task(id)`` with the nested fields the page shows (votes, reviews, comments, history, tree).
* ``page_weight_kb``: the heaviest of the board, a task and an agent page (charts included) plus
  the stylesheet and the script, before compression.
* ``completion_to_page_p99_ms``: what an open board page does when an agent completes a task: a
  ``taskUpdated(team)`` subscriber over the websocket re-reads the task's row (``/t/<id>/row``) on
  the event; the delay runs from the completion's commit returning to that row read, showing
  ``complete``. Baseline ``completion_event_p99_ms``: the event's own arrival at the subscriber.

Targets are reported with a boolean each; nothing asserts them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console

from phoenix_board.api import client as api_client
from phoenix_board.api import tokens
from phoenix_board.board import agents, embedded, errors, lifecycle, ranking, teams
from phoenix_board.board.db import Database
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.bench import api as bench_api
from phoenix_board.harness.bench import board as bench
from phoenix_board.harness.queries import database
from phoenix_board.web import reads

TARGETS: dict[str, tuple[str, float]] = {
    "board_page_p99_ms": ("<=", 20.0),
    "task_page_p99_ms": ("<=", 20.0),
    "page_weight_kb": ("<=", 150.0),
    "completion_to_page_p99_ms": ("<=", 250.0),
}
BOARD_QUERY = ("query($n: Int!) { taskBoard(first: $n) { nodes { id title team status category priority score upvotes "
               "downvotes commentCount hotScore assignedTo createdAt } pageInfo { endCursor } } }")
TASK_QUERY = ("query($id: ID!) { task(id: $id) { id title description payload output status priority fibonacciSize "
              "deadline dopamineReward score upvotes downvotes hotScore attempt maxAttempts createdAt "
              "votes { codename value at } reviews { codename verdict weight } "
              "comments { id parentId depth codename content upvotes downvotes createdAt } "
              "history { seq kind codename attempt at detail } dependents delegationTree { id title status level } } }")
UPDATED = "subscription($team: String) { taskUpdated(team: $team) { taskId payload } }"
TEAM = "webbench"  # the completions' own team: nothing else claims there


def _timed(calls: int, call: Any) -> list[float]:
    out = []
    for i in range(calls):
        started = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def pages(db: Database, base: str, token: str, calls: int, ui: bench.Ui) -> dict[str, Any]:
    rows, _ = ranking.page(db, "hot", limit=calls)
    ids = [r["id"] for r in rows] or [rows[0]["id"]]
    some_agent = agents.list_agents(db, limit=1)[0].codename
    ui.note(f"pages: {calls} board and task pages, and as many API queries for the same data")
    with httpx.Client(base_url=base, cookies={"phoenix_token": token}, timeout=60) as web, \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        def page(path: str) -> int:
            r = web.get(path)
            if r.status_code != 200:
                raise errors.BoardError(f"{path} answered {r.status_code}: {r.text[:300]}")
            return len(r.content)

        def query(q: str, variables: dict[str, Any]) -> None:
            r = api.post("/graphql", json={"query": q, "variables": variables})
            if r.status_code != 200 or r.json().get("errors"):
                raise errors.BoardError(f"the API failed: {r.text[:300]}")

        for i in range(bench.PAGE_WARMUP // 5):
            page("/")
            page(f"/t/{ids[i % len(ids)].hex}")
            query(BOARD_QUERY, {"n": reads.PAGE})
            query(TASK_QUERY, {"id": str(ids[i % len(ids)])})
        board_ms = _timed(calls, lambda _i: page("/"))
        api_board_ms = _timed(calls, lambda _i: query(BOARD_QUERY, {"n": reads.PAGE}))
        task_ms = _timed(calls, lambda i: page(f"/t/{ids[i % len(ids)].hex}"))
        api_task_ms = _timed(calls, lambda i: query(TASK_QUERY, {"id": str(ids[i % len(ids)])}))
        assets = page("/static/web.css") + page("/static/web.js")
        weights = {"board": page("/") + assets, "task": page(f"/t/{ids[0].hex}") + assets,
                   "agent": page(f"/a/{some_agent}") + assets}
    p = bench_api._p
    return {"board_page_p50_ms": p(board_ms, 0.5), "board_page_p99_ms": p(board_ms, 0.99),
            "api_board_p50_ms": p(api_board_ms, 0.5), "api_board_p99_ms": p(api_board_ms, 0.99),
            "task_page_p50_ms": p(task_ms, 0.5), "task_page_p99_ms": p(task_ms, 0.99),
            "api_task_p50_ms": p(api_task_ms, 0.5), "api_task_p99_ms": p(api_task_ms, 0.99),
            "page_weight_kb": round(max(weights.values()) / 1024, 1),
            "page_weights_kb": {k: round(v / 1024, 1) for k, v in weights.items()}}


async def completions(db: Database, base: str, token: str, count: int, ui: bench.Ui) -> dict[str, Any]:
    ui.note(f"completion to page: {count} tasks completed one at a time, watched as an open board page does")
    teams.create(db, TEAM)
    worker = agents.register(db, {"codename": "bench-web-worker", "team": TEAM, "role": "bench"})[0].id
    events: dict[str, float] = {}
    shown: dict[str, float] = {}
    arrived: dict[str, asyncio.Event] = {}

    async def watcher(http: httpx.AsyncClient) -> None:
        async for data in api_client.subscribe(base, token, UPDATED, {"team": TEAM}, open_timeout=60):
            event = data["taskUpdated"]
            if (event.get("payload") or {}).get("status") != "complete":
                continue
            task = event["taskId"]
            events[task] = time.time()
            row = await http.get(f"/t/{task.replace('-', '')}/row")  # the page's own re-read
            if "complete" in row.text:
                shown[task] = time.time()
            arrived.setdefault(task, asyncio.Event()).set()

    def complete_one() -> tuple[str, float]:
        task, _ = lifecycle.submit(db, {"title": "bench web completion", "team": TEAM, "category": "noop"})
        claimed = lifecycle.claim(db, worker)
        if claimed is None or claimed.id != task.id:
            raise errors.Conflict("the bench's worker claimed something else")
        lifecycle.result(db, task.id, worker, claimed.attempt, {"ok": True}, 1.0)
        return str(task.id), time.time()

    async with httpx.AsyncClient(base_url=base, cookies={"phoenix_token": token}, timeout=60) as http:
        watching = asyncio.create_task(watcher(http))
        try:
            await asyncio.sleep(1.0)  # the subscription is in before the first completion
            committed: dict[str, float] = {}
            for i in range(count + 2):
                task, at = await asyncio.to_thread(complete_one)
                await asyncio.wait_for(arrived.setdefault(task, asyncio.Event()).wait(), timeout=60)
                if i >= 2:  # two warm-ups
                    committed[task] = at
                await asyncio.sleep(0.05)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
    p = bench_api._p
    to_page = [(shown[t] - at) * 1000 for t, at in committed.items() if t in shown]
    to_event = [(events[t] - at) * 1000 for t, at in committed.items() if t in events]
    return {"completion_to_page_p50_ms": p(to_page, 0.5), "completion_to_page_p99_ms": p(to_page, 0.99),
            "completion_event_p50_ms": p(to_event, 0.5), "completion_event_p99_ms": p(to_event, 0.99),
            "completions": len(to_page)}


def run(server_url: str, tasks: int, calls: int, completed: int, console: Console | None = None) -> dict[str, Any]:
    ui = bench.Ui(console)
    board_config = bench.Config(tasks=tasks)
    with bench.scratch_database(server_url, False, ui) as (name, url), \
            tempfile.TemporaryDirectory(prefix="phoenix-bench-web-") as tmp:
        with database(url, min_size=bench.POOL_SIZE, max_size=bench.POOL_SIZE, name="phoenix-bench-web") as db:
            seed_seconds = bench.seed(url, db, board_config, ui)
            with bench_api._stack(url, Path(tmp), ui) as (base, _redis_url, _server):
                token = tokens.create(db, "operator").token
                figures = pages(db, base, token, calls, ui)
                figures |= asyncio.run(completions(db, base, token, completed, ui))
    result: dict[str, Any] = {**figures, "tasks": tasks, "page_calls": calls, "page_size": reads.PAGE,
                              "relay_interval_s": bench_api.RELAY_INTERVAL, "seed_seconds": round(seed_seconds, 1),
                              "cpu_count": os.cpu_count(), "database": name}
    result["targets"] = {
        key: {"target": f"{op} {limit:g}", "value": result[key], "met": bool(bench._OPS[op](result[key], limit))}
        for key, (op, limit) in TARGETS.items()
    }
    result["targets_met"] = all(t["met"] for t in result["targets"].values())
    return result


def web_cmd(
    tasks: int = typer.Option(1_000_000, "--tasks", help="Tasks on the seeded board (at least 1000)."),
    calls: int = typer.Option(300, "--calls", min=10, help="Timed calls of each page and of each API query."),
    completions_: int = typer.Option(30, "--completions", min=1, max=1000, help="Completions timed to the page."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """The web board on a large board: page server time and weight, completion to page; API baselines.

    Seeds a scratch database on the board's server and runs its own Valkey, relay and server.
    stdout: figures; stderr: progress.
    """
    bench.Config(tasks=tasks)  # its bounds checked before anything starts
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with embedded.database_url(toolkit.settings()) as url:
        result = run(url, tasks, calls, completions_, Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
        return
    for key, value in result.items():
        if key != "targets":
            render.console.print(f"{key:<28} {value}")
    for key, t in result["targets"].items():
        render.console.print(f"{key:<28} {t['target']}: {'met' if t['met'] else 'missed'}")
