"""`phoenix-board metrics` (the Prometheus exporter) and `phoenix-board doctor` (health of every part)."""

from __future__ import annotations

import signal
import threading
from typing import Optional

import redis
import typer
from rich.table import Table

from phoenix_board.board import agents, consciousness, constants, errors, health, render, replica
from phoenix_board.board.commands import settings as read_settings
from phoenix_board.board.session import open_board, open_replica
from phoenix_board.metrics import alerting, exporter


def metrics(port: Optional[int] = typer.Option(None, "--port", "-p", help="Default PHOENIX_METRICS_PORT (9464)."),
            addr: str = typer.Option("0.0.0.0", "--addr")) -> None:
    """Serve /metrics for Prometheus until stopped."""
    s = read_settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # read-only (docs/concepts/security.md); board figures from the replica when one is set
    with open_board(s, max_size=2, role="monitor", wait_for_schema=True) as db, \
            open_replica(s, max_size=2, role="monitor") as replica:
        try:
            server, _ = exporter.serve(db, s, port or s.metrics_port, addr, replica=replica)
        except OSError as exc:
            raise errors.Unavailable(f"cannot listen on {addr}:{port or s.metrics_port}: {exc.strerror}") from None
        render.console.print(f"serving /metrics on {addr}:{port or s.metrics_port}")
        stop.wait()
        server.shutdown()


def doctor() -> None:
    """Report the mode, versions and health of every moving part; exit 1 if one is unhealthy."""
    s = read_settings()
    table = Table(title="phoenix-board doctor", title_justify="left")
    for column in ("part", "state", "detail"):
        table.add_column(column)
    healthy = True
    with open_board(s, max_size=1, role="monitor") as db:
        m = consciousness.mode(db)
        table.add_row("postgresql", "ok", f"{m['postgres_version']}; timeline on {m['mode']}"
                      + (f" {m['timescaledb_version']} ({m['timescaledb_license']} licence)"
                         if m["timescaledb_version"] else ""))
        for job in consciousness.timescale_jobs(db):
            failed = job["last_run_status"] == "Failed"
            healthy &= not failed
            table.add_row(f"timescaledb {job['policy']}", "[red]failing[/red]" if failed else "ok",
                          f"job {job['job_id']} as {job['owner']}: last run {job['last_run_status'] or 'not yet'}, "
                          f"last success {render.ago(job['last_successful_finish'])}, "
                          f"{job['total_failures']} of {job['total_runs']} runs failed")
        if s.database_read_url:
            try:
                with open_replica(s, role="monitor") as rep:
                    seconds, behind = replica.lag(db, rep)
                table.add_row("replica", "ok", f"{seconds:.1f} s ({behind:.0f} bytes) behind the primary")
            except errors.BoardError as exc:
                healthy = False
                table.add_row("replica", "[red]down[/red]", exc.message)
        if s.redis_url:
            try:
                info = redis.Redis.from_url(s.redis_url, socket_timeout=2, socket_connect_timeout=2).info("server")
                table.add_row("broker", "ok", f"{info.get('redis_version', '?')} at {s.redis_url}")
            except (redis.RedisError, OSError) as exc:
                healthy = False
                table.add_row("broker", "[red]down[/red]", str(exc))
        else:
            table.add_row("broker", "-", "PHOENIX_REDIS_URL unset (embedded Valkey runs with `up`)")
        for row in db.all("metrics_board"):
            state = "ok" if row["active"] else ("[red]none active[/red]" if row["registered"] else "-")
            healthy &= bool(row["active"]) or not row["registered"]
            table.add_row(f"agents {row['team']}", state, f"{row['active']} active of {row['registered']} registered")
        dead = [a for a in agents.list_agents(db, limit=10_000) if health.agent_state(a) == "dead"]
        for agent in dead[:constants.DEAD_AGENTS_SHOWN]:  # by name: "2 of 3 active" does not say who
            table.add_row(f"agent {agent.codename}", "[red]dead[/red]",
                          f"no heartbeat for {render.ago(agent.last_heartbeat)[:-4]} (team {agent.team})")
        if len(dead) > constants.DEAD_AGENTS_SHOWN:
            table.add_row("agents", "[red]dead[/red]", f"{len(dead) - constants.DEAD_AGENTS_SHOWN} more (agents list)")
        runs = db.all("beat_runs")
        if not runs:
            table.add_row("beat", "-", "no run recorded (start `phoenix-board beat`)")
        periods = s.beat_periods()
        for run in runs:
            state = health.job_state(run, periods.get(run["job"]))
            healthy &= state == "ok"
            detail = (f"last run {render.ago(run['last_started_at'])}, last success {render.ago(run['last_success_at'])}, "
                      f"{run['last_duration_ms']:.1f} ms")
            if state == "stale":
                detail += f"; due every {periods[run['job']]:g} s: is the beat running? (`phoenix-board beat`, or `up`)"
            elif state == "failing":
                detail += f": {render.safe(run['last_error'])}"
            table.add_row(f"beat {run['job']}", state if state == "ok" else f"[red]{state}[/red]", detail)
    # alerts are Prometheus' to evaluate (metrics/prometheus/alerts.yml, their one definition):
    # doctor shows what it has pending or firing rather than judging a second, divergent set
    if s.prometheus_url:
        try:
            for alert in alerting.active(s.prometheus_url):
                healthy &= alert.state != "firing"
                colour = "red" if alert.state == "firing" else "yellow"
                table.add_row(f"alert {alert.name}", f"[{colour}]{alert.state} {alert.severity}[/{colour}]",
                              alert.summary)
        except errors.Unavailable as exc:
            healthy = False
            table.add_row("prometheus", "[red]down[/red]", exc.message)
    else:
        table.add_row("alerts", "-", "PHOENIX_PROMETHEUS_URL unset (alerts are evaluated by Prometheus)")
    render.console.print(table)
    if not healthy:
        raise typer.Exit(1)


def mount(app: typer.Typer) -> None:
    app.command("metrics")(metrics)
    app.command("doctor")(doctor)
