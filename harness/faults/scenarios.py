"""``python -m phoenix_board.harness.faults``: faults injected into real processes, and what they cost.

Every scenario runs real ``phoenix-board workers`` pools on a board and a broker of its own (see
``rig.py``), with the ``probe`` handler writing down each execution, and then counts what
``figures.py`` defines: tasks lost, completions duplicated, effects duplicated, and for
kills the time until a killed claim is claimable again. Targets: 0 lost, 0 duplicated, reclaim
within twice the lease.

* ``kill``: SIGKILL a pool process ``--kills`` times, cycling through four points of the
  lifecycle: right after a claim (the handler entered, its side effect not yet done), in the
  middle of the handler (after the side effect), right after a result was committed (the
  process then holds its next claim), and after a random delay.
* ``redis``: stop and restart the broker ``--restarts`` times while submissions arrive and
  agents work; the producer retries a refused send with the same idempotency keys.
* ``postgres``: stop and restart PostgreSQL ``--restarts`` times while agents work. It runs on a
  private embedded server, never on the configured one.
* ``duplicates``: every submission sent three times one by one and once more in a batch (same
  idempotency keys), extra wake-ups, and a zombie: an agent whose lease lapsed replays its
  result, renewal and failure for the old attempt while a new attempt runs and after it
  completed. Every replay must be refused as stale.
* ``vacuum``: agents churn through tasks while a REPEATABLE READ transaction that has read the
  tasks table stays open for ``--hold`` seconds; dead row versions pile up (VACUUM may not remove
  them), throughput is compared with the same churn before, and after the reader ends a VACUUM
  must bring the dead tuples back down; the same churn runs once more after it, since a board
  that grew during the run is slower on its own.

Progress goes to stderr; with ``--json`` the figures go to stdout. No test asserts a timing.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from phoenix_board.board import agents, embedded, errors, lifecycle, migrate
from phoenix_board.board.settings import Settings
from phoenix_board.cli import render, toolkit
from phoenix_board.harness.faults.figures import Kill, clean, count, reclaims, settle
from phoenix_board.harness.faults.rig import TEAM, Pool, Rig, open_rig, probe_task, wait_until
from phoenix_board.harness.queries import queries
from phoenix_board.harness.scratch import Ui, scratch_database
from phoenix_board.workers import sending

SCENARIOS = ("kill", "redis", "postgres", "duplicates", "vacuum")
POINTS = ("after_claim", "mid_handler", "after_result", "random")
# the probe's pauses in the kill scenario: wide enough windows for the harness to hit each point
BEFORE_S, WORK_S = 0.3, 0.6


class Steps:
    """One progress bar per scenario on stderr; silent without a console."""

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.bar: Progress | None = None
        self.task: Any = None

    @contextlib.contextmanager
    def scenario(self, name: str, total: int) -> Iterator[Steps]:
        if self.console is None:
            yield self
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console) as bar:
            self.bar, self.task = bar, bar.add_task(name, total=total)
            try:
                yield self
            finally:
                self.bar = None

    def say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)


def _settle_and_count(rig: Rig, keys: list[str], steps: Steps, timeout: float | None = None) -> dict[str, Any]:
    steps.say("settling: waiting for every task to complete")
    settled = settle(rig.db, keys, timeout or 120 + 6 * rig.lease)
    figures = count(rig.db, rig.ledger, keys)
    figures["settled"] = settled
    return figures


# --- kill ------------------------------------------------------------------------------------


class _Feeder:
    """Keeps a backlog of open probe tasks so that agents are busy whenever a kill lands."""

    def __init__(self, rig: Rig, backlog: int, limit: int) -> None:
        self.rig, self.backlog, self.limit = rig, backlog, limit
        self.keys: list[str] = []
        self._last = 0.0

    def top_up(self) -> None:
        if len(self.keys) >= self.limit or time.monotonic() - self._last < 0.5:
            return
        self._last = time.monotonic()
        try:
            waiting = self.rig.db.one("faults_open_backlog", team=TEAM)["n"]
        except errors.Unavailable:
            return
        n = min(self.limit - len(self.keys), max(0, self.backlog - waiting))
        if n:
            base = len(self.keys)
            self.keys += self.rig.submit([probe_task(f"probe {base + i}", BEFORE_S, WORK_S) for i in range(n)])


def _victim(point: str, rig: Rig, pool: Pool, since: float, feeder: _Feeder, rng: random.Random,
            last_event: list[int], timeout: float = 60) -> tuple[int, str] | None:
    """Waits for a pool process at ``point`` of the lifecycle. -> (pid, agent codename)"""
    end = time.monotonic() + timeout
    delay_until = time.time() + rng.uniform(0.0, 1.5) if point == "random" else 0.0
    while time.monotonic() < end:
        feeder.top_up()
        rig.ledger.read()
        live = set(pool.children())
        entered = {(e["task"], e["attempt"]): e for e in rig.ledger.entries if e["step"] == "enter" and e["at"] > since}
        effects = {(e["task"], e["attempt"]): e for e in rig.ledger.entries if e["step"] == "effect"}
        now = time.time()
        if point == "after_claim":
            fresh = [e for k, e in entered.items() if k not in effects and e["pid"] in live]
            if fresh:
                return fresh[-1]["pid"], fresh[-1]["agent"]
        elif point == "mid_handler":
            working = [e for e in effects.values()
                       if e["at"] > since and e["pid"] in live and now < e["at"] + WORK_S - 0.1]
            if working:
                return working[-1]["pid"], working[-1]["agent"]
        elif point == "after_result":
            done = rig.db.all("faults_completed_since", after=last_event[0])
            if done:
                last_event[0] = done[-1]["id"]
            for row in reversed(done):
                e = effects.get((row["task"], row["attempt"]))
                if e is not None and e["pid"] in live:
                    return e["pid"], e["agent"]
        elif now >= delay_until:
            known = {e["pid"]: e["agent"] for e in rig.ledger.entries if e["pid"] in live}
            if known:
                pid = rng.choice(sorted(known))
                return pid, known[pid]
        time.sleep(0.01)
    return None


def kill_scenario(rig: Rig, kills: int, agents_n: int, steps: Steps, seed: int = 7,
                  max_tasks: int = 100_000) -> dict[str, Any]:
    rng = random.Random(seed)
    pool = rig.start_pool(agents_n)
    feeder = _Feeder(rig, backlog=2 * agents_n, limit=max_tasks)
    feeder.top_up()
    done: list[Kill] = []
    missed: list[str] = []
    last_event = [rig.db.one("faults_last_event_id")["id"]]
    for i in range(kills):
        point = POINTS[i % len(POINTS)]
        steps.say(f"kill {i + 1}/{kills}: waiting for a process {point.replace('_', ' ')}")
        if point == "after_result":
            last_event[0] = rig.db.one("faults_last_event_id")["id"]
        found = _victim(point, rig, pool, time.time(), feeder, rng, last_event)
        if found is None or not pool.kill(found[0]):
            missed.append(point)
            steps.advance()
            continue
        at = datetime.now(UTC)
        pid, agent = found
        held = [(r["task"], r["attempt"]) for r in rig.db.all("faults_held", codename=agent)]
        done.append(Kill(point, pid, agent, at, held))
        pool.wait_full(90, without=pid)
        steps.advance()
    figures = _settle_and_count(rig, feeder.keys, steps)
    figures.update(reclaims(rig.db, done, rig.lease))
    figures["missed_points"] = missed
    figures["target_met"] = clean(figures) and figures["reclaim_within_2x_lease"]
    return figures


# --- redis -----------------------------------------------------------------------------------


def redis_scenario(rig: Rig, restarts: int, n_tasks: int, agents_n: int, steps: Steps,
                   down_seconds: float = 1.0) -> dict[str, Any]:
    rig.start_pool(agents_n)
    keys: list[str] = []
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for i in range(0, n_tasks, 5):  # a steady trickle, so that sends meet the restarts
                keys.extend(rig.submit([probe_task(f"r{i + j}", 0.0, 0.05) for j in range(min(5, n_tasks - i))]))
                time.sleep(0.1)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)

    producer = threading.Thread(target=produce, name="faults-producer", daemon=True)
    producer.start()
    for r in range(restarts):
        steps.say(f"broker restart {r + 1}/{restarts}")
        wait_until(lambda: len(keys) >= (r + 1) * n_tasks // (restarts + 1), 120, "submissions before a restart")
        rig.restart_broker(down_seconds)
        steps.advance()
    producer.join(timeout=300)
    if failure:
        raise failure[0]
    figures = _settle_and_count(rig, keys, steps)
    figures.update({"restarts": restarts, "down_s": down_seconds})
    figures["target_met"] = clean(figures)
    return figures


# --- postgres --------------------------------------------------------------------------------


def postgres_scenario(rig: Rig, server: embedded.EmbeddedPostgres, restarts: int, n_tasks: int, agents_n: int,
                      steps: Steps, down_seconds: float = 1.0) -> dict[str, Any]:
    rig.start_pool(agents_n)
    keys = rig.submit([probe_task(f"p{i}", 0.05, 0.3) for i in range(n_tasks)])
    for r in range(restarts):
        steps.say(f"database restart {r + 1}/{restarts}")
        target = (r + 1) * n_tasks // (restarts + 2)
        wait_until(lambda: _completed(rig) >= target, 300, "completions before a restart")
        server.stop()
        time.sleep(down_seconds)
        server.start()
        steps.advance()
    figures = _settle_and_count(rig, keys, steps)
    figures.update({"restarts": restarts, "down_s": down_seconds})
    figures["target_met"] = clean(figures)
    return figures


def _completed(rig: Rig) -> int:
    return sum(r["n"] for r in rig.db.all("faults_by_status") if r["status"] == "complete")


# --- duplicates ------------------------------------------------------------------------------

ZOMBIES = 3


def duplicates_scenario(rig: Rig, n_tasks: int, agents_n: int, steps: Steps) -> dict[str, Any]:
    rig.start_pool(agents_n)
    # zombies first: tasks put on the board directly (no wake-up), each claimed by an agent of its
    # own that then lets its short lease lapse while the real agents go on
    held: list[tuple[Any, Any, int]] = []
    direct: list[str] = []
    for i in range(ZOMBIES):
        steps.say(f"zombie claim {i + 1}/{ZOMBIES}")
        ghost, _ = agents.register(rig.db, {"codename": f"zombie-{i}", "team": TEAM})
        lifecycle.submit(rig.db, {**probe_task(f"z{i}", 0.0, 1.5), "idempotency_key": f"zombie-{i}"})
        direct.append(f"zombie-{i}")
        got = lifecycle.claim(rig.db, ghost.id, lease_seconds=0.5)
        if got is not None:
            held.append((ghost.id, got.id, got.attempt))
    steps.say("the same submissions, four times each")
    base = [probe_task(f"d{i}", 0.0, 0.05) for i in range(n_tasks)]
    keys = [str(uuid.uuid4()) for _ in base]
    sent = 0
    for _ in range(3):
        for task, key in zip(base, keys, strict=True):
            wait_until(lambda t=task, k=key: rig.client.submit(t, k), 60, "the broker")
            sent += 1
    rig.submit([{**t, "idempotency_key": k} for t, k in zip(base, keys, strict=True)])
    sent += len(base)
    sending.wake_team(rig.client.app, rig.settings, TEAM, 20)
    steps.advance()

    refused, applied = 0, 0

    def replay(ghost: Any, task_id: Any, attempt: int) -> None:
        nonlocal refused, applied
        for call in (lambda: lifecycle.result(rig.db, task_id, ghost, attempt, {"zombie": True}, 1.0),
                     lambda: lifecycle.renew(rig.db, task_id, ghost, attempt),
                     lambda: lifecycle.fail(rig.db, task_id, ghost, attempt, "zombie")):
            try:
                call()
                applied += 1
            except errors.StaleClaim:
                refused += 1

    steps.say("zombie replays while the next attempt runs")
    for ghost, task_id, attempt in held:
        wait_until(lambda t=task_id, a=attempt: lifecycle.get(rig.db, t).attempt > a, 120 + 4 * rig.lease,
                   "another agent to claim a lapsed task")
        replay(ghost, task_id, attempt)
    steps.advance()
    figures = _settle_and_count(rig, keys + direct, steps)
    steps.say("zombie replays after completion")
    for ghost, task_id, attempt in held:
        replay(ghost, task_id, attempt)
    steps.advance()
    figures = {**count(rig.db, rig.ledger, keys + direct), "settled": figures["settled"]}
    figures.update({
        "messages_sent": sent, "unique_keys": len(set(keys)),
        "tasks_created_twice": figures["on_board"] - len(set(keys + direct)),
        "extra_wakeups": 20, "zombie_claims": len(held),
        "stale_replays": refused + applied, "stale_refused": refused, "stale_applied": applied,
    })
    figures["target_met"] = clean(figures) and applied == 0 and figures["tasks_created_twice"] == 0
    return figures


# --- vacuum ----------------------------------------------------------------------------------


def vacuum_scenario(rig: Rig, hold_seconds: float, n_tasks: int, agents_n: int, steps: Steps) -> dict[str, Any]:
    rig.start_pool(agents_n)
    keys: list[str] = []

    def churn(label: str, seconds: float) -> float:
        """Submits batches and lets the agents drain them for ``seconds``; -> completions per second."""
        start, before = time.perf_counter(), _completed(rig)
        i = 0
        while time.perf_counter() - start < seconds or i == 0:
            batch = rig.submit([probe_task(f"{label}{i}-{j}") for j in range(n_tasks)])
            keys.extend(batch)
            settle(rig.db, keys, 300)
            i += 1
        return (_completed(rig) - before) / (time.perf_counter() - start)

    steps.say("churn before: the baseline")
    base_rate = churn("v", min(hold_seconds, 30))
    _vacuum(rig)
    dead_before = rig.db.one("faults_dead_tuples")
    steps.advance()
    steps.say(f"churn while a REPEATABLE READ reader holds its snapshot for {hold_seconds:.0f} s")
    with psycopg.connect(rig.url, application_name="phoenix-faults holder") as holder:
        holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        holder.execute(queries()["faults_hold_read"]).fetchone()
        start = time.perf_counter()
        held_rate = churn("h", hold_seconds)
        xmin_age = rig.db.one("faults_xmin_age")["age"]
        _vacuum(rig)
        dead_held = rig.db.one("faults_dead_tuples")
        time.sleep(max(0.0, hold_seconds - (time.perf_counter() - start)))
        holder.commit()
    steps.advance()
    steps.say("the reader ended: VACUUM again, and the same churn after")
    _vacuum(rig)
    dead_after = rig.db.one("faults_dead_tuples")
    after_rate = churn("a", min(hold_seconds, 30))
    steps.advance()
    figures = _settle_and_count(rig, keys, steps)
    recovered = dead_after["n"] <= max(10, dead_held["n"] // 10)
    figures.update({
        "hold_s": hold_seconds, "xmin_age_while_held": xmin_age,
        "completed_per_s_before": round(base_rate, 1), "completed_per_s_while_held": round(held_rate, 1),
        "completed_per_s_after": round(after_rate, 1),
        "throughput_ratio_while_held": round(held_rate / base_rate, 3) if base_rate else None,
        "dead_tuples": {"before": dead_before["n"], "while_held_after_vacuum": dead_held["n"],
                        "after_release_and_vacuum": dead_after["n"]},
        "dead_tuples_grew": dead_held["n"] > dead_before["n"],
        "recovered": recovered,
    })
    figures["target_met"] = clean(figures) and figures["dead_tuples_grew"] and recovered
    return figures


def _vacuum(rig: Rig) -> None:
    # VACUUM writes the dead tuples it had to leave into the statistics when it ends, so the next
    # read of pg_stat_user_tables (a new transaction in autocommit) sees them
    rig.db.execute("faults_vacuum_tasks")


# --- the run ---------------------------------------------------------------------------------


def run(server_url: str, settings: Settings, *, scenarios: tuple[str, ...] = SCENARIOS, kills: int = 20,
        tasks: int = 200, agents_n: int = 4, lease: float = 10.0, restarts: int = 3, hold: float = 30.0,
        console: Console | None = None, workdir: Path | None = None) -> dict[str, Any]:
    check_scenarios(scenarios)
    ui = Ui(console)
    steps = Steps(console)
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        base = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="phoenix-faults-")))
        for name in scenarios:
            ui.note(f"scenario {name}")
            started = time.perf_counter()
            where = base / name
            if name == "postgres":
                results[name] = _on_private_postgres(where, lease, settings, restarts, tasks, agents_n, steps)
            else:
                with scratch_database(server_url, False, ui) as (_, url), open_rig(url, where, lease, settings) as rig:
                    results[name] = _one(name, rig, kills, tasks, agents_n, restarts, hold, steps)
            results[name]["seconds"] = round(time.perf_counter() - started, 1)
    return {
        "scenarios": results,
        "target_met": all(r["target_met"] for r in results.values()),
        "lost": sum(r["lost"] for r in results.values()),
        "duplicated_completions": sum(r["duplicated_completions"] for r in results.values()),
        "duplicated_effects": sum(r["duplicated_effects"] for r in results.values()),
        "targets": "0 lost, 0 duplicated completions or effects, stale replays refused, "
                   "killed claims claimable within 2x the lease, dead tuples recovered after the reader ends",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }


def _one(name: str, rig: Rig, kills: int, tasks: int, agents_n: int, restarts: int, hold: float,
         steps: Steps) -> dict[str, Any]:
    sized: dict[str, tuple[int, Callable[[], dict[str, Any]]]] = {
        "kill": (kills, lambda: kill_scenario(rig, kills, agents_n, steps)),
        "redis": (restarts, lambda: redis_scenario(rig, restarts, tasks, agents_n, steps)),
        "duplicates": (3, lambda: duplicates_scenario(rig, max(1, tasks // 4), agents_n, steps)),
        "vacuum": (3, lambda: vacuum_scenario(rig, hold, max(10, tasks // 4), agents_n, steps)),
    }
    total, fn = sized[name]
    with steps.scenario(name, total):
        return fn()


def _on_private_postgres(where: Path, lease: float, settings: Settings, restarts: int, tasks: int, agents_n: int,
                         steps: Steps) -> dict[str, Any]:
    server = embedded.EmbeddedPostgres(where / "postgres")
    url = server.start()
    try:
        migrate.migrate(url)
        with open_rig(url, where, lease, settings) as rig, steps.scenario("postgres", restarts):
            figures = postgres_scenario(rig, server, restarts, tasks, agents_n, steps)
        figures["server"] = "private embedded PostgreSQL (restarted by the run)"
        return figures
    finally:
        server.stop()


def check_scenarios(scenarios: Sequence[str]) -> None:
    if unknown := set(scenarios) - set(SCENARIOS):
        raise errors.InvalidInput(f"unknown scenario {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")


def faults_cmd(
    kills: int = typer.Option(20, "--kills", min=1, max=10_000, help="SIGKILLs of pool processes."),
    tasks: int = typer.Option(200, "--tasks", min=8, max=100_000, help="Tasks per scenario (kill: as many as it takes)."),
    agents_n: int = typer.Option(4, "--agents", min=2, max=32, help="Pool processes (agents)."),
    lease: float = typer.Option(10.0, "--lease", min=1, max=600, help="Lease seconds of the agents."),
    restarts: int = typer.Option(3, "--restarts", min=1, max=100, help="Broker and database restarts."),
    hold: float = typer.Option(30.0, "--hold", min=1, max=3600, help="Seconds the vacuum scenario holds its snapshot."),
    scenario: list[str] = typer.Option(list(SCENARIOS), "--scenario", "-s", help=f"Scenarios to run: {', '.join(SCENARIOS)}."),
    as_json: bool = toolkit.JsonOpt,
) -> None:
    """Kill agents, restart Redis and PostgreSQL, replay messages, hold back vacuum; count what was lost."""
    check_scenarios(scenario)  # before any database is started for a run that cannot happen
    settings = toolkit.settings()
    with embedded.database_url(settings) as url:
        result = run(url, settings, scenarios=tuple(scenario), kills=kills, tasks=tasks, agents_n=agents_n,
                     lease=lease, restarts=restarts, hold=hold, console=Console(stderr=True))
    if as_json:
        typer.echo(render.dumps(result))
    else:
        for name, figures in result["scenarios"].items():
            render.console.print(f"[bold]{name}[/bold]: {figures}")
        render.console.print(f"target_met: {result['target_met']}")
    if not result["target_met"]:
        raise typer.Exit(1)
